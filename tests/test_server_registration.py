"""Contract with moto's internals: fails loudly when a moto upgrade breaks our registration.

moto has no plugin API (getmoto/moto#7126); QConnectServer relies on exactly what is pinned here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import moto
import moto.backend_index
import moto.backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from qconnect_async.testing import _backend, _responses
from qconnect_async.testing._registration import register

SIGNED_FOR_WISDOM = {
    "HTTP_AUTHORIZATION": (
        "AWS4-HMAC-SHA256 Credential=testing/20240101/eu-west-2/wisdom/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0"
    ),
    "PATH_INFO": "/knowledgeBases",
    "REQUEST_METHOD": "GET",
}


def test_moto_ships_no_qconnect_of_its_own() -> None:
    """If moto gains a qconnect backend, revisit ours instead of shadowing it."""
    assert not (Path(moto.__file__).parent / "qconnect").exists()
    assert moto.__version__.startswith("5.2.")


def test_get_backend_imports_moto_dot_service() -> None:
    """get_backend("qconnect") finds our BackendDict through the sys.modules alias."""
    register()
    assert sys.modules["moto.qconnect"] is _backend
    assert moto.backends.get_backend("qconnect") is _backend.qconnect_backends  # type: ignore[call-overload]


def test_dispatcher_routes_wisdom_requests_to_us() -> None:
    """The server maps a wisdom-signed request to wisdom.<region>.amazonaws.com, then to us."""
    register()
    register()  # idempotent
    patterns = moto.backend_index.backend_url_patterns
    assert [name for name, _ in patterns].count("qconnect") == 1
    dispatcher = DomainDispatcherApplication(create_backend_app)
    assert dispatcher.backend_url_patterns is patterns
    host = dispatcher.infer_service_region_host(dict(SIGNED_FOR_WISDOM), "/knowledgeBases")
    assert host == "wisdom.eu-west-2.amazonaws.com"
    assert dispatcher.get_backend_for_host(host) == "qconnect"


def test_backend_app_serves_our_handler() -> None:
    """moto builds the Flask app from our url_paths (via _url_module) and our dispatch."""
    register()
    backend = _backend.qconnect_backends["123456789012"]["us-east-1"]
    assert backend.url_paths == {"/.*$": _responses.QConnectResponse.dispatch}
    app = create_backend_app("qconnect")  # type: ignore[arg-type]
    assert any(
        rule.endpoint.startswith("QConnectResponse.dispatch") for rule in app.url_map.iter_rules()
    )


def test_threaded_server_internals_we_override() -> None:
    """_ThreadedServer replaces _server_entry and reads these attributes."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    for name in ("_server_entry", "_server_ready_event", "_ip_address", "_port", "_server"):
        assert hasattr(server, name), name
    assert callable(server.get_host_and_port)

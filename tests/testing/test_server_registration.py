"""Contract with moto's internals: fails loudly when a moto upgrade breaks our registration.

moto has no plugin API (getmoto/moto#7126); QConnectServer relies on exactly what is pinned here.
"""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import moto
import moto.backend_index
import moto.backends
import moto.settings
import pytest
from moto.core.request import Request
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.test import EnvironBuilder

from qconnect_async.testing import _backend, _moto
from qconnect_async.testing._moto import register

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
    assert sys.modules["moto.qconnect"] is _moto
    assert moto.backends.get_backend("qconnect") is _moto.qconnect_backends  # type: ignore[call-overload]


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
    assert backend.url_paths == {"/.*$": _moto.QConnectResponse.dispatch}
    app = create_backend_app("qconnect")  # type: ignore[arg-type]
    assert any(
        rule.endpoint.startswith("QConnectResponse.dispatch") for rule in app.url_map.iter_rules()
    )


def test_what_the_fast_listing_reads_of_moto() -> None:
    """_fastpath leaves a request to moto while moto's recorder or IAM checks are on."""
    assert recorder._user_enabled is False
    assert math.isinf(moto.settings.INITIAL_NO_AUTH_ACTION_COUNT)
    assert callable(DomainDispatcherApplication.get_application)


@pytest.mark.parametrize(
    ("host", "user_agent", "credential"),
    [
        ("127.0.0.1:5000", "Botocore/1.0", "testing/20240101/eu-west-2/wisdom/aws4_request"),
        (
            "wisdom.ap-south-1.amazonaws.com",
            "Botocore/1.0",
            "t/20240101/eu-west-2/wisdom/aws4_request",
        ),
        ("localhost", "aws-sdk region/ca-central-1", "t/20240101/eu-west-2/wisdom/aws4_request"),
        ("localhost", "x", "AKIAIOSFODNN7EXAMPLE/20240101/sa-east-1/wisdom/aws4_request"),
    ],
)
def test_fast_listing_picks_moto_s_account_and_region(
    host: str, user_agent: str, credential: str
) -> None:
    """The account and Region of a request are those moto's BaseResponse picks (no key of
    the server's own map: `set_account` adds to moto's choice, it never differs from it)."""
    path = "/knowledgeBases/kb/importJobs"
    environ = EnvironBuilder(
        path=path,
        headers={
            "Host": host,
            "User-Agent": user_agent,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, Signature=0",
        },
    ).get_environ()
    environ["RAW_URI"] = path
    response = _moto.QConnectResponse()
    response.setup_class(Request(environ))
    assert _moto.region_of(environ) == response.region
    assert _moto.account_of(environ, {}) == response.current_account


def test_werkzeug_internals_the_request_handler_uses() -> None:
    """_handler's keep-alive path stands on these werkzeug and http.server members."""
    assert issubclass(MotoRequestHandler, WSGIRequestHandler)
    for name in ("run_wsgi", "make_environ", "log_request", "send_response", "send_header"):
        assert callable(getattr(MotoRequestHandler, name)), name
    parameters = list(inspect.signature(ThreadedWSGIServer.__init__).parameters)
    assert parameters[:5] == ["self", "host", "port", "app", "handler"]
    assert ThreadedWSGIServer.daemon_threads

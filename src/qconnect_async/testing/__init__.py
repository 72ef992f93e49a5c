"""A fake Amazon Q in Connect service for tests and benchmarks, on moto[server].

    with QConnectServer() as server:
        kb = server.create_knowledge_base()
        server.add_import_jobs(kb, 250)
        server.throttle("ListImportJobs", times=2, retry_after=0.1)
        ...  # point a client at server.endpoint_url, region server.region
        assert server.stats.throttled == 2

What moto does: the engine. Its WSGI app and dispatcher; its per-account, per-Region
BackendDict holding the data (cleared by `POST /moto-api/reset`); its request parsing and
response serialisation from botocore's model; every other service on the same port, STS
AssumeRole (whose keys act in the role's account) and IAM included. What the fake does itself:
the qconnect backend registered with moto (knowledge bases, import jobs and their lifecycle,
the quick-response row checks); the model's input constraints, which moto does not enforce;
each request's account (`set_account`, else moto's) and Region; the signing-time check;
injected faults and per-account, per-Region rate limits; presigned upload and download URLs
checked as S3 checks them; keep-alive HTTP; the control API (`ServerControls`), in-process or
over HTTP (`RemoteQConnectServer`, which needs no moto).

`python -m qconnect_async.testing --port 0` serves one from another process (it prints its URL);
`RemoteQConnectServer(url)` drives it. With pytest, the `qconnect_server` fixture gives a server
per session, reset for each test. `set_testing()` (also `with set_testing(): ...`) removes
backoff and pacing waits, so suites that inject throttles run in milliseconds. Names are
imported lazily: `set_testing` and `RemoteQConnectServer` import no moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._config import set_testing

if TYPE_CHECKING:
    from ._control import RemoteQConnectServer, ServerControls
    from ._demo import seed_demo
    from ._replies import MalformedKind
    from ._server import QConnectServer
    from ._state import ServerStats

__all__ = [
    "MalformedKind",
    "QConnectServer",
    "RemoteQConnectServer",
    "ServerControls",
    "ServerStats",
    "seed_demo",
    "set_testing",
]

_HOMES = {
    "MalformedKind": "._replies",
    "QConnectServer": "._server",
    "RemoteQConnectServer": "._control",
    "ServerControls": "._control",
    "ServerStats": "._state",
    "seed_demo": "._demo",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    try:
        module = import_module(home, __name__)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("moto", "werkzeug", "flask"):
            raise
        raise ModuleNotFoundError(
            f"{name} needs moto[server] (>=5.2,<5.3): pip install 'moto[server]>=5.2,<5.3'",
            name=exc.name,
        ) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

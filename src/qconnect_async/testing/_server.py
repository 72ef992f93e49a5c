"""QConnectServer: moto's threaded server, with the QConnect backend, on a local port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from ._control import LocalControls
from ._http import WSGIServer
from ._moto import register
from ._state import JobCompletion, ServerState, Settings
from ._wsgi import QConnectWSGI


# -- QConnectServer -------------------------------------------------------------------------------
class _ThreadedServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer serving our WSGI wrapper around moto's app, with keep-alive."""

    def __init__(
        self,
        host: str,
        port: int,
        state: ServerState,
        control: Callable[[str, dict[str, Any]], Any],
    ) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._state = state
        self._control = control
        self.startup_error: BaseException | None = None

    def _server_entry(self) -> None:
        app = QConnectWSGI(
            DomainDispatcherApplication(create_backend_app), self._state, self._control
        )
        try:
            self._server = WSGIServer(self._ip_address, self._port, app)
        except BaseException as exc:
            # moto's start() waits for this event: without it a busy port hangs for ever.
            self.startup_error = exc
            self._server_ready_event.set()
            return
        self._server.clock = self._state.now
        self._server_ready_event.set()
        self._server.serve_forever()

    def stop(self) -> None:
        server = self._server
        super().stop()
        # Clients keep connections alive: a stopped server must not answer on them.
        if isinstance(server, WSGIServer):
            server.close_connections()


class QConnectServer(LocalControls):
    """A fake Amazon Q in Connect endpoint on 127.0.0.1, for tests and benchmarks.

    Use it as a context manager, or call `start()` and `stop()`. Point clients at
    `endpoint_url` with region `region` and any credentials. The data lives in moto's backends,
    which every moto server and `mock_aws` of the process share, like moto's own services;
    faults, settings and counters belong to this server.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        default_page_size: int = 100,
        complete_after_reads: int | None = 1,
        complete_after_seconds: float | None = None,
    ) -> None:
        register()
        settings = Settings(
            default_page_size, JobCompletion(complete_after_reads, complete_after_seconds)
        )
        super().__init__(region=region, account_id=account_id, settings=settings)
        self.host = host
        self._requested_port = port
        self._server: _ThreadedServer | None = None
        self._port: int | None = None
        self._lock = threading.Lock()

    def start(self) -> Self:
        """Start serving; returns once the port is bound."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("QConnectServer is already running")
            # werkzeug logs every request at INFO: silence it, keep real errors.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            server = _ThreadedServer(self.host, self._requested_port, self._state, self._call_json)
            server.start()
            if server.startup_error is not None:
                raise OSError(
                    f"QConnectServer cannot listen on {self.host}:{self._requested_port}"
                ) from server.startup_error
            self._port = server.get_host_and_port()[1]
            self._server = server
            return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread; idempotent."""
        with self._lock:
            server, self._server = self._server, None
            if server is not None:
                server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The port bound (known once started)."""
        if self._port is None:
            raise RuntimeError("QConnectServer has not been started")
        return self._port

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("QConnectServer is not running")
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        where = self.endpoint_url if self.running else "stopped"
        return f"<QConnectServer {where} region={self.region}>"

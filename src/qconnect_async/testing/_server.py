"""QConnectServer: moto's app, with the QConnect backend, served from a thread on a local port.

The HTTP side is werkzeug's threaded server, with keep-alive: werkzeug's development server
closes the connection after every response, so a client would pay a TCP handshake (and the
server a new thread) per request, where AWS keeps connections alive. Here a request whose body
has a Content-Length is read whole before the app runs, and its response is buffered and sent
with a Content-Length, so the connection can serve the next request; anything else (a chunked
body, `Expect: 100-continue`, a client asking to close) goes through werkzeug's own code and
closes as before. Each response carries one Server header: werkzeug's and moto's would make
two, which strict clients (aiohttp in dev mode) reject.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

from ._control import ServerControls
from ._declare import CONTROLS, ControlCall
from ._moto import register
from ._replies import call
from ._state import JobCompletion, ServerState, Settings
from ._wsgi import DROP_CONNECTION, QConnectWSGI

# -- HTTP: keep-alive, one Server header ---------------------------------------------------------
#: moto's value for the header, as the service's front end sends it.
SERVER_HEADER = "amazon.com"
#: Bodies larger than this are left to werkzeug (and the connection closed).
_MAX_BUFFERED_BODY = 16 * 1024 * 1024

_log = logging.getLogger("qconnect_async.testing")
_werkzeug_log = logging.getLogger("werkzeug")


class RequestHandler(MotoRequestHandler):
    """moto's request handler with HTTP/1.1 keep-alive and a single Server header."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: no Nagle delay between them on a live connection.
    disable_nagle_algorithm = True
    _server_header_sent = False

    def version_string(self) -> str:
        return SERVER_HEADER

    def send_response(self, code: int, message: str | None = None) -> None:
        self._server_header_sent = False
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        # send_response writes ours first; the app's own (moto's `server`) is dropped.
        if keyword.lower() == "server":
            if self._server_header_sent:
                return
            self._server_header_sent = True
        super().send_header(keyword, value)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header tells the server's clock, which a test may set off the host's.
        if timestamp is None:
            timestamp = getattr(self.server, "clock", time.time)()
        return super().date_time_string(timestamp)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug formats (and colours) the line before its logger drops it.
        if _werkzeug_log.isEnabledFor(logging.INFO):
            super().log_request(code, size)

    def _body_length(self) -> int | None:
        """The request body's length when this connection may be kept alive."""
        if self.close_connection or self.request_version != "HTTP/1.1":
            return None  # HTTP/1.0 keep-alive would need a `Connection: keep-alive` reply
        if "Transfer-Encoding" in self.headers:
            return None
        if self.headers.get("Expect", "").strip().lower() == "100-continue":
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        raw = raw.strip()
        if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_BUFFERED_BODY:
            return None
        return int(raw)

    def run_wsgi(self) -> None:
        if getattr(self.server, "stopping", False):
            # A request on a kept connection after stop(): end the connection unanswered.
            self.close_connection = True
            return
        length = self._body_length()
        if length is None:
            super().run_wsgi()
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            code, headers, content = call(self.server.app, environ)
        except Exception:
            _log.exception("QConnectServer failed on %s %s", self.command, self.path)
            self.send_error(500)
            self.close_connection = True
            return
        if environ.get(DROP_CONNECTION):
            # A fault: the connection ends with no answer, as a reset mid-request leaves it.
            self.close_connection = True
            return
        # HEAD, 1xx, 204 and 304 answers carry no body, whatever their headers say.
        has_body = self.command != "HEAD" and not (100 <= code < 200 or code in (204, 304))
        sent = {key.lower(): value.strip() for key, value in headers}
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)  # `Connection: close` also ends the connection
        size = str(len(content))
        closes = sent.get("connection", "").lower() == "close"
        if has_body and "content-length" not in sent and not closes:
            self.send_header("Content-Length", size)
        elif has_body and sent.get("content-length", size) != size:
            # A length the body does not have: only closing tells the client where it ends.
            self.send_header("Connection", "close")
        self.end_headers()
        if content and has_body:
            self.wfile.write(content)


class WSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server, which ends its idle keep-alive connections when it stops."""

    def __init__(self, host: str, port: int, app: Callable[..., Any]) -> None:
        super().__init__(host, port, app, RequestHandler)
        #: the server's clock (Unix seconds), for the Date header
        self.clock: Callable[[], float] = time.time
        self.stopping = False
        self._connections: dict[socket.socket, Any] = {}  # each open connection: its peer
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections[request] = client_address
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Stop reading from every open connection: each ends once its response is out."""
        self.stopping = True
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RD)

    def settled(self, timeout: float) -> bool:
        """Wait (``timeout`` seconds at most) until every request already sent has been read.

        A client that went away may have left a request behind: in the listen backlog, or
        unread on a kept connection (with its end of file after it). Served later, it would
        count in the next test's stats. The listen queue is first in, first out: once a
        connection made now is accepted, every earlier one is too; then each connection must
        have nothing left to read (a closed one ends once its handler has read it all).
        """
        deadline = time.monotonic() + timeout
        with socket.create_connection((self.host, self.port), timeout=timeout) as marker:
            peer = marker.getsockname()
            while not self._accepted(peer):
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
        while self._unread():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _accepted(self, peer: Any) -> bool:
        with self._connections_lock:
            return peer in self._connections.values()

    def _unread(self) -> bool:
        """Whether a connection has bytes (or its end) not yet read by its handler."""
        # Under the lock no connection is closed (shutdown_request takes it first).
        with self._connections_lock:
            connections = list(self._connections)
            if not connections:
                return False
            readable, _, _ = select.select(connections, [], [], 0)
            return bool(readable)


#: The controls that store or drop data (a whole seeding at once when called over HTTP).
_HEAP_CHANGES = frozenset(
    {"create_knowledge_base", "add_import_jobs", "add_raw_import_job", "seed", "reset"}
)


def settle_heap() -> None:
    """Collect, then freeze what is left, so that later full collections skip the seed data.

    For a server that owns its process only (``python -m qconnect_async.testing``): with many
    seeded jobs a full collection pauses it, the requests held meanwhile reach its token bucket
    together, and it throttles them as a burst no client sent. ``gc.unfreeze`` first, so that
    data a reset dropped is collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


# -- QConnectServer -------------------------------------------------------------------------------
class QConnectServer(ServerControls):
    """A fake Amazon Q in Connect endpoint on 127.0.0.1, for tests and benchmarks.

    Use it as a context manager, or call `start()` and `stop()`. Point clients at
    `endpoint_url` with region `region` and any credentials. The data lives in moto's backends,
    which every moto server and `mock_aws` of the process share, like moto's own services;
    faults, settings and counters belong to this server. Its control bodies run here.
    """

    #: Set by a server that owns its process: after a control over HTTP that stored or
    #: dropped data, `settle_heap()`. (Never in a test process: it would freeze the tests'.)
    settle_after_changes = False

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
        self.region, self.account_id = region, account_id
        self._state = ServerState(region=region, account_id=account_id, settings=settings)
        self.host = host
        self._requested_port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._lock = threading.Lock()

    def _invoke(self, call: ControlCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return call.body(self, *args, **kwargs)

    def _call_json(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a control by wire name with JSON arguments; its JSON result (the HTTP endpoint)."""
        call = CONTROLS.get(name)
        if call is None:
            raise LookupError(f"unknown control call: {name}")
        result = call.body(self, **arguments)
        if self.settle_after_changes and name in _HEAP_CHANGES:
            settle_heap()
        return result if call.wire is None else call.wire.encode(result)

    def start(self) -> Self:
        """Start serving; returns once the port is bound."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("QConnectServer is already running")
            # werkzeug logs every request at INFO: silence it, keep real errors.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            moto = DomainDispatcherApplication(create_backend_app)
            app = QConnectWSGI(moto, self._state, self._call_json)
            try:
                server = WSGIServer(self.host, self._requested_port, app)
            except (OSError, SystemExit) as exc:  # werkzeug exits when it cannot bind
                where = f"{self.host}:{self._requested_port}"
                raise OSError(f"QConnectServer cannot listen on {where}") from exc
            server.clock = self._state.now
            self._thread = threading.Thread(
                target=server.serve_forever, name="QConnectServer", daemon=True
            )
            self._thread.start()
            self._port, self._server = server.server_address[1], server
            return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread; idempotent."""
        with self._lock:
            server, self._server = self._server, None
            if server is not None and self._thread is not None:
                server.shutdown()
                self._thread.join()
                # Clients keep connections alive: a stopped server must not answer on them.
                server.close_connections()

    def _settled(self, timeout: float) -> bool:
        """Wait until every request a client has sent was read (see WSGIServer.settled)."""
        server = self._server
        return server is None or server.settled(timeout)

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

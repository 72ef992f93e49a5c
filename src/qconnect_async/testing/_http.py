"""The HTTP side of a QConnectServer: werkzeug's threaded server, with keep-alive.

werkzeug's development server closes the connection after every response, so a client would
pay a TCP handshake (and the server a new thread) per request, where AWS keeps connections
alive. Here a request whose body has a Content-Length is read whole before the app runs, and its
response is buffered and sent with a Content-Length, so the connection can serve the next
request; anything else (a chunked body, `Expect: 100-continue`, a client asking to close) goes
through werkzeug's own code and closes as before. Each response carries one Server header:
werkzeug's and moto's would make two, which strict clients (aiohttp in dev mode) reject.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import ThreadedWSGIServer

from ._replies import call
from ._wsgi import DROP_CONNECTION

# -- HTTP: keep-alive, one Server header ----------------------------------------------------------
#: moto's value for the header, as the service's front end sends it.
SERVER_HEADER = "amazon.com"
#: Bodies larger than this are left to werkzeug (and the connection closed).
_MAX_BUFFERED_BODY = 16 * 1024 * 1024
_BODILESS_STATUSES = frozenset({204, 304})

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
        bodiless = 100 <= code < 200 or code in _BODILESS_STATUSES
        head = self.command == "HEAD"
        self.send_response(code)
        length_sent: str | None = None
        close_delimited = False
        for key, value in headers:
            self.send_header(key, value)  # `Connection: close` also ends the connection
            if key.lower() == "content-length":
                length_sent = value.strip()
            elif key.lower() == "connection" and value.strip().lower() == "close":
                close_delimited = True
        if length_sent is None and not bodiless and not head and not close_delimited:
            self.send_header("Content-Length", str(len(content)))
        elif (
            length_sent is not None
            and not head
            and not bodiless
            and length_sent != str(len(content))
        ):
            # A length the body does not have: only closing tells the client where it ends.
            self.send_header("Connection", "close")
        self.end_headers()
        if content and not head and not bodiless:
            self.wfile.write(content)


class WSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server, which ends its idle keep-alive connections when it stops."""

    def __init__(self, host: str, port: int, app: Callable[..., Any]) -> None:
        super().__init__(host, port, app, RequestHandler)
        #: the server's clock (Unix seconds), for the Date header
        self.clock: Callable[[], float] = time.time
        self.stopping = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Stop reading from every open connection: each ends once its response is out."""
        self.stopping = True
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RD)

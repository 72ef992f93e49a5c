"""The replies the fake sends itself: rest-json errors, S3's XML errors, malformed bodies.

A reply is (status, headers, body). `call` runs a WSGI app (moto's) to its reply: the one place
the fake does so.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, get_args
from xml.sax.saxutils import escape

#: A 200 whose body a client must reject: not JSON, JSON without the result list, no bytes;
#: or ("cut_body") a valid body cut short by the network: sent without Content-Length, the
#: connection closed mid-document, so only the JSON parser can tell it is incomplete.
MalformedKind = Literal["invalid_json", "missing_summaries", "empty_body", "cut_body"]
MALFORMED_KINDS: tuple[MalformedKind, ...] = get_args(MalformedKind)
THROTTLING = "ThrottlingException"


@dataclass(frozen=True)
class ErrorReply:
    """An error response to send instead of the operation's."""

    status: int
    code: str
    message: str
    retry_after: float | None = None
    #: an HTML page with no error code, as a proxy or load balancer in front answers
    html: bool = False

    @property
    def throttle(self) -> bool:
        return self.code == THROTTLING or self.status == 429


Headers = list[tuple[str, str]]
Reply = tuple[int, Headers, bytes]

_MALFORMED_BODIES: dict[MalformedKind, bytes] = {
    # Cut short mid-document, as a dropped connection behind a proxy can leave it.
    "invalid_json": b'{"importJobSummaries": [{"importJobId": "',
    "missing_summaries": b'{"nextToken": null, "message": "no summaries here"}',
    "empty_body": b"",
    # The same bytes, but sent without Content-Length and cut by closing the connection:
    # the client cannot see the cut, only that the document is incomplete.
    "cut_body": b'{"importJobSummaries": [{"importJobId": "',
}


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def response_headers(body: bytes, extra: Headers | None = None) -> Headers:
    """A JSON response's headers (the request handler adds Date and Server)."""
    return [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        *(extra or []),
    ]


def json_reply(status: int, payload: Any) -> Reply:
    body = json.dumps(payload).encode()
    return status, response_headers(body), body


def error_reply(error: ErrorReply) -> Reply:
    """A rest-json error: the code in x-amzn-ErrorType and in the body's `__type`; or (`html`)
    a proxy's error page, with no AWS error code anywhere."""
    retry: Headers = []
    if error.retry_after is not None:
        retry.append(("Retry-After", f"{error.retry_after:g}"))
    if error.html:
        title = escape(status_line(error.status))
        body = (
            f"<html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{escape(error.message)}</p></body></html>"
        ).encode()
        headers = [("Content-Type", "text/html"), ("Content-Length", str(len(body))), *retry]
        return error.status, headers, body
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return error.status, response_headers(body, [("x-amzn-ErrorType", error.code), *retry]), body


def malformed_reply(kind: MalformedKind) -> Reply:
    body = _MALFORMED_BODIES[kind]
    if kind == "cut_body":
        # A close-delimited body (HTTP/1.1 allows it): the request handler sends no length.
        headers = [(k, v) for k, v in response_headers(body) if k != "Content-Length"]
        return 200, [*headers, ("Connection", "close")], body
    return 200, response_headers(body), body


def s3_error(status: int, code: str, message: str) -> Reply:
    """An S3 error reply (presigned URLs): XML, with a request ID in body and header."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", request_id),
    ]
    return status, headers, body


#: The reply of a fault that closes the connection with no answer (the service sees to it).
DROPPED: Reply = (500, [], b"")


def call(app: Callable[..., Any], environ: dict[str, Any]) -> Reply:
    """Run a WSGI app to the end: its status code, headers and body."""
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        started[:] = [status, headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    return int(str(started[0]).split()[0]), list(started[1]), b"".join(chunks)

"""Responses the server writes itself, shaped like the service's rest-json responses."""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from typing import Any

from ._faults import ErrorReply, MalformedKind

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
    """A rest-json error: the code in x-amzn-ErrorType and in the body's `__type`."""
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    extra: Headers = [("x-amzn-ErrorType", error.code)]
    if error.retry_after is not None:
        extra.append(("Retry-After", f"{error.retry_after:g}"))
    return error.status, response_headers(body, extra), body


def malformed_reply(kind: MalformedKind) -> Reply:
    body = _MALFORMED_BODIES[kind]
    if kind == "cut_body":
        # A close-delimited body (HTTP/1.1 allows it): the request handler sends no length.
        headers = [(k, v) for k, v in response_headers(body) if k != "Content-Length"]
        return 200, [*headers, ("Connection", "close")], body
    return 200, response_headers(body), body

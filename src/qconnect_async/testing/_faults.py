"""Fault injection and the server's counters: what to do to the next request, and what it saw.

Faults are rules matched in the order they were added. Per request, at most one fault answers:
the rate limit first, then errors (throttles and failures, scheduled then random), then malformed
bodies, then page faults. Latency is added on top of whatever answers. A fault's behaviour lives
here whole: `FaultInjector.decide` hands the service either a ready reply (an error, a bad body)
or a page fault, which `page_token` applies to the listing's token; presigned PUTs get theirs
from `decide_upload`. Its one declaration, the control method that adds it, is in `_control`.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, get_args
from xml.sax.saxutils import escape

from ._ids import knowledge_base_id_of

# -- kinds of fault ------------------------------------------------------------------------------
#: A 200 whose body a client must reject: not JSON, JSON without the result list, no bytes;
#: or ("cut_body") a valid body cut short by the network: sent without Content-Length, the
#: connection closed mid-document, so only the JSON parser can tell it is incomplete.
MalformedKind = Literal["invalid_json", "missing_summaries", "empty_body", "cut_body"]
#: Faults on a page's token: the request's token again (a loop), an empty page to follow,
#: or "" instead of no token on the last page (which ends a listing, as in botocore).
PageFault = Literal["repeat_token", "empty_page", "empty_last_token"]

MALFORMED_KINDS: tuple[MalformedKind, ...] = get_args(MalformedKind)
PAGE_FAULTS: tuple[PageFault, ...] = get_args(PageFault)
THROTTLING = "ThrottlingException"
#: Faults of a presigned PUT: an S3 error reply, a URL found expired whatever its expiry, or
#: the connection closed with no answer.
UploadFault = Literal["error", "expired", "disconnect"]
#: What `random_faults` answers by default: a throttle or a server error, equally likely.
DEFAULT_RANDOM_ERRORS: tuple[tuple[str, int], ...] = (
    (THROTTLING, 429),
    ("InternalServerException", 500),
    ("ServiceUnavailableException", 503),
)


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


# -- replies --------------------------------------------------------------------------------------
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
    if error.html:
        return _html_error(error)
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    extra: Headers = [("x-amzn-ErrorType", error.code)]
    if error.retry_after is not None:
        extra.append(("Retry-After", f"{error.retry_after:g}"))
    return error.status, response_headers(body, extra), body


def _html_error(error: ErrorReply) -> Reply:
    """A proxy's error page: HTML, no AWS error code anywhere (`error.code` is not sent)."""
    title = escape(status_line(error.status))
    body = (
        f"<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{escape(error.message)}</p></body></html>"
    ).encode()
    headers = [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
    if error.retry_after is not None:
        headers.append(("Retry-After", f"{error.retry_after:g}"))
    return error.status, headers, body


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


def page_token(fault: PageFault | None, request_token: str | None, token: str | None) -> str | None:
    """The nextToken a listing sends under a page fault (`empty_page` is the backend's)."""
    if fault == "repeat_token" and request_token is not None:
        return request_token
    if fault == "empty_last_token" and token is None:
        return ""
    return token


# -- rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a request gets: extra latency, and at most one fault."""

    latency: float = 0.0
    #: the reply to send instead of the operation's (an error or a malformed body)
    reply: Reply | None = None
    throttled: bool = False
    #: a fault the listing applies to its page (see `page_token`)
    page_fault: PageFault | None = None


@dataclass
class _Rule:
    """A scheduled fault: `remaining` more matching requests (None: all of them)."""

    operation: str | None
    knowledge_base_id: str | None
    remaining: int | None
    error: ErrorReply | None = None
    malformed: MalformedKind | None = None
    page_fault: PageFault | None = None

    def matches(self, operation: str, knowledge_base_id: str | None) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        return self.knowledge_base_id is None or self.knowledge_base_id == knowledge_base_id

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


@dataclass
class UploadRule:
    """A fault for the next `remaining` presigned PUTs (None: all of them)."""

    kind: UploadFault
    remaining: int | None
    status: int = 503
    code: str = "SlowDown"
    message: str = "Please reduce your request rate."


class TokenBucket:
    """`rate` requests per second on average, up to `burst` at once; starts full."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class _RandomFaults:
    probability: float
    rng: random.Random
    operations: frozenset[str] | None
    errors: tuple[tuple[str, int], ...]


class FaultInjector:
    """Every fault of one server; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cleared = threading.Event()
        self.clear()

    def clear(self) -> None:
        """Remove every fault, the rate limit and latency included; requests held by a
        latency are answered now."""
        with self._lock:
            self._cleared.set()
            self._cleared = threading.Event()
            self._rules: list[_Rule] = []
            self._latency: dict[str | None, float] = {}
            self._bucket: TokenBucket | None = None
            self._bucket_status = 429
            self._random: _RandomFaults | None = None
            self._upload_faults: list[UploadRule] = []

    def add_error(
        self,
        error: ErrorReply,
        *,
        operation: str | None,
        times: int | None,
        knowledge_base_id: str | None,
    ) -> None:
        self._add(_Rule(operation, _kb(knowledge_base_id), times, error=error))

    def add_malformed(
        self,
        kind: MalformedKind,
        *,
        operation: str | None,
        times: int | None,
        knowledge_base_id: str | None,
    ) -> None:
        self._add(_Rule(operation, _kb(knowledge_base_id), times, malformed=kind))

    def add_page_fault(
        self,
        fault: PageFault,
        *,
        operation: str | None,
        times: int | None,
        knowledge_base_id: str | None,
    ) -> None:
        self._add(_Rule(operation, _kb(knowledge_base_id), times, page_fault=fault))

    def hold(self, seconds: float) -> None:
        """Hold a request for its latency, or until the faults are cleared."""
        with self._lock:
            cleared = self._cleared
        cleared.wait(seconds)

    def set_latency(self, seconds: float, operation: str | None) -> None:
        with self._lock:
            if seconds > 0:
                self._latency[operation] = seconds
            else:
                self._latency.pop(operation, None)

    def set_rate_limit(self, rate: float | None, burst: int, status: int) -> None:
        with self._lock:
            self._bucket = None if rate is None else TokenBucket(rate, burst)
            self._bucket_status = status

    def set_random(
        self,
        probability: float,
        *,
        seed: int | None,
        operations: Sequence[str] | None,
        errors: Sequence[tuple[str, int]],
    ) -> None:
        with self._lock:
            self._random = (
                _RandomFaults(
                    probability,
                    random.Random(seed),
                    None if operations is None else frozenset(operations),
                    tuple(errors),
                )
                if probability > 0
                else None
            )

    def add_upload_fault(self, rule: UploadRule) -> None:
        with self._lock:
            self._upload_faults.append(rule)

    def decide_upload(self) -> Reply | None:
        """The reply of a fault for the next presigned PUT, consuming it; None: no fault.

        DROPPED: close the connection unanswered.
        """
        with self._lock:
            if not self._upload_faults:
                return None
            rule = self._upload_faults[0]
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._upload_faults.pop(0)
        if rule.kind == "disconnect":
            return DROPPED
        if rule.kind == "expired":
            return s3_error(403, "AccessDenied", "Request has expired")
        return s3_error(rule.status, rule.code, rule.message)

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def decide(self, operation: str, knowledge_base_id: str | None, *, has_token: bool) -> Decision:
        """The fate of one request to `operation`, consuming the rule that fires."""
        kb = None if knowledge_base_id is None else knowledge_base_id_of(knowledge_base_id)
        with self._lock:
            latency = self._latency.get(operation, self._latency.get(None, 0.0))
            if self._bucket is not None and not self._bucket.take():
                reply = ErrorReply(self._bucket_status, THROTTLING, "Rate exceeded")
                return Decision(latency, error_reply(reply), throttled=reply.throttle)
            rule = self._first(operation, kb, lambda r: r.error is not None)
            if rule is not None and rule.error is not None:
                return Decision(latency, error_reply(rule.error), throttled=rule.error.throttle)
            chance = self._random
            if (
                chance is not None
                and (chance.operations is None or operation in chance.operations)
                and chance.rng.random() < chance.probability
            ):
                code, status = chance.rng.choice(chance.errors)
                reply = ErrorReply(status, code, "Injected fault")
                return Decision(latency, error_reply(reply), throttled=reply.throttle)
            rule = self._first(operation, kb, lambda r: r.malformed is not None)
            if rule is not None and rule.malformed is not None:
                return Decision(latency, malformed_reply(rule.malformed))
            # A repeated token needs a token to repeat: requests without one pass it by.
            rule = self._first(
                operation,
                kb,
                lambda r: (
                    r.page_fault in ("empty_page", "empty_last_token")
                    or (r.page_fault is not None and has_token)
                ),
            )
            if rule is not None:
                return Decision(latency, page_fault=rule.page_fault)
            return Decision(latency)

    def _first(self, operation: str, kb: str | None, kind: Callable[[_Rule], bool]) -> _Rule | None:
        for rule in self._rules:
            if kind(rule) and rule.matches(operation, kb):
                rule.consume()
                if rule.remaining is not None and rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule
        return None


def _kb(ref: str | None) -> str | None:
    return None if ref is None else knowledge_base_id_of(ref)


# -- stats ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerStats:
    """A snapshot of a server's counters since it started or since its last reset.

    `requests` counts every request to each operation (faulted ones too); `throttled` the ones
    answered with a throttle (rate limit, scheduled or random); `faults` every injected fault,
    throttles included; `statuses` responses by HTTP status; `max_in_flight` the most requests
    the server held at once; `throttled_at` when each throttle was answered, in seconds since
    the start or the last reset (the first `THROTTLE_TIMES` of them), to tell a cold start's
    throttles from later ones.
    """

    requests: Mapping[str, int] = field(default_factory=dict)
    throttled: int = 0
    throttled_at: tuple[float, ...] = ()
    faults: int = 0
    statuses: Mapping[int, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON object (status keys become strings)."""
        return {
            "requests": dict(self.requests),
            "throttled": self.throttled,
            "throttled_at": list(self.throttled_at),
            "faults": self.faults,
            "statuses": {str(status): n for status, n in self.statuses.items()},
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerStats:
        return cls(
            requests={str(k): int(v) for k, v in data["requests"].items()},
            throttled=int(data["throttled"]),
            throttled_at=tuple(float(t) for t in data["throttled_at"]),
            faults=int(data["faults"]),
            statuses={int(k): int(v) for k, v in data["statuses"].items()},
            in_flight=int(data["in_flight"]),
            max_in_flight=int(data["max_in_flight"]),
        )


#: Throttle times a server keeps between resets (a bound on memory in long runs).
THROTTLE_TIMES = 10_000


class StatsRecorder:
    """Counters updated by the server's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero the counters; requests still in flight stay counted as in flight."""
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._throttled = 0
            self._throttled_at: list[float] = []
            self._since = time.monotonic()
            self._faults = 0
            self._max_in_flight = self._in_flight

    def begin(self, operation: str) -> None:
        with self._lock:
            self._requests[operation] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def end(self, status: int, *, fault: bool, throttled: bool) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses[status] += 1
            self._faults += fault
            self._throttled += throttled
            if throttled and len(self._throttled_at) < THROTTLE_TIMES:
                self._throttled_at.append(time.monotonic() - self._since)

    def snapshot(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                requests=dict(self._requests),
                throttled=self._throttled,
                throttled_at=tuple(self._throttled_at),
                faults=self._faults,
                statuses=dict(self._statuses),
                in_flight=self._in_flight,
                max_in_flight=self._max_in_flight,
            )

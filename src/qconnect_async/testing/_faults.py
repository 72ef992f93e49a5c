"""Fault injection: what to do to the next request.

Faults are rules matched in the order they were added. Per request, at most one fault answers:
the rate limit first (a token bucket per account and Region), then errors (throttles and
failures, scheduled then random), then malformed bodies, then page faults and lost answers
(the work done, its answer never sent). Latency is added on top of whatever answers. A
fault's behaviour lives here whole: `FaultInjector.decide` hands the service either a ready
reply (an error, a bad body) or a page fault, which the listing applies to its page
(`PageTokens.page`; `hide_running`: the job listing), or a lost answer, which the WSGI app
applies to the reply; presigned PUTs (operation `PUT_OPERATION`) get theirs from
`decide_upload`. Its one declaration, the control method that adds it, is in `_faultcontrols`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ._model import knowledge_base_id_of
from ._replies import (
    DROPPED,
    THROTTLING,
    ErrorReply,
    MalformedKind,
    Reply,
    error_reply,
    malformed_reply,
    s3_error,
)

#: Faults on a page: the request's token again (a loop), an empty page to follow, "" instead
#: of no token on the last page (which ends a listing, as in botocore), or the page's jobs in
#: progress left out (a listing that lags behind new jobs).
PageFault = Literal["repeat_token", "empty_page", "empty_last_token", "hide_running"]
#: (account, Region) a rate limit covers; None stands for each account (Region) separately.
Scope = tuple[str | None, str | None]
#: The stats' and the rules' name of a presigned PUT (S3's operation).
PUT_OPERATION = "PutObject"
#: What `random_faults` answers by default: a throttle or a server error, equally likely.
DEFAULT_RANDOM_ERRORS: tuple[tuple[str, int], ...] = (
    (THROTTLING, 400),
    ("InternalServerException", 500),
    ("ServiceUnavailableException", 503),
)


# -- rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a request gets: extra latency, and at most one fault."""

    latency: float = 0.0
    #: the reply to send instead of the operation's (an error or a malformed body)
    reply: Reply | None = None
    throttled: bool = False
    #: a fault the listing applies to its page (see `PageTokens.page`)
    page_fault: PageFault | None = None
    #: do the request's work, then close the connection without its answer
    lose_answer: bool = False


@dataclass
class Rule:
    """A scheduled fault for the next `remaining` matching requests (None: all of them).

    For a presigned PUT (`operation=PUT_OPERATION`), `error` is sent as S3's XML and `dropped`
    closes the connection unanswered.
    """

    operation: str | None
    knowledge_base_id: str | None
    remaining: int | None
    error: ErrorReply | None = None
    malformed: MalformedKind | None = None
    page_fault: PageFault | None = None
    dropped: bool = False
    lose_answer: bool = False

    def matches(self, operation: str, knowledge_base_id: str | None) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        return self.knowledge_base_id is None or self.knowledge_base_id == knowledge_base_id


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
            self._rules: list[Rule] = []
            self._latency: dict[str | None, float] = {}
            # (account, Region) -> (rate, burst, status); None: every account or Region
            self._limits: dict[Scope, tuple[float, int, int]] = {}
            self._buckets: dict[tuple[str, str], tuple[TokenBucket, int]] = {}
            self._random: _RandomFaults | None = None

    def add(self, rule: Rule) -> None:
        """Add a scheduled fault, after those already there."""
        if rule.knowledge_base_id is not None:
            rule.knowledge_base_id = knowledge_base_id_of(rule.knowledge_base_id)
        with self._lock:
            self._rules.append(rule)

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

    def set_rate_limit(
        self, rate: float | None, burst: int, status: int, scope: Scope = (None, None)
    ) -> None:
        """Limit each (account, Region) `scope` covers, each with a bucket of its own.

        The most specific limit of a pair applies: (account, Region), then (account, None),
        then (None, Region), then (None, None). `rate=None` removes the limit of `scope`.
        """
        with self._lock:
            if rate is None:
                self._limits.pop(scope, None)
            else:
                self._limits[scope] = (rate, burst, status)
            self._buckets.clear()  # every pair starts again, full, under its new limit

    def _bucket(self, account: str, region: str) -> tuple[TokenBucket, int] | None:
        found = self._buckets.get((account, region))
        if found is None:
            for scope in ((account, region), (account, None), (None, region), (None, None)):
                limit = self._limits.get(scope)
                if limit is not None:
                    rate, burst, status = limit
                    found = self._buckets[(account, region)] = (TokenBucket(rate, burst), status)
                    break
        return found

    def set_random(
        self,
        probability: float,
        *,
        seed: int | None,
        operations: Sequence[str] | None,
        errors: Sequence[tuple[str, int]],
    ) -> None:
        ops = None if operations is None else frozenset(operations)
        chance = _RandomFaults(probability, random.Random(seed), ops, tuple(errors))
        with self._lock:
            self._random = chance if probability > 0 else None

    def decide_upload(self) -> Reply | None:
        """The reply of a fault for the next presigned PUT, consuming it; None: no fault.

        DROPPED: close the connection unanswered.
        """
        with self._lock:
            rule = self._first(PUT_OPERATION, None, lambda r: r.operation == PUT_OPERATION)
        if rule is None:
            return None
        if rule.dropped or rule.error is None:
            return DROPPED
        return s3_error(rule.error.status, rule.error.code, rule.error.message)

    def decide(
        self,
        operation: str,
        knowledge_base_id: str | None,
        *,
        has_token: bool,
        account: str = "",
        region: str = "",
    ) -> Decision:
        """The fate of one request to `operation` in `account` and `region`, consuming the rule
        that fires."""
        kb = None if knowledge_base_id is None else knowledge_base_id_of(knowledge_base_id)
        with self._lock:
            latency = self._latency.get(operation, self._latency.get(None, 0.0))
            error = self._error(operation, kb, account, region)
            if error is not None:
                return Decision(latency, error_reply(error), throttled=error.throttle)
            rule = self._first(operation, kb, lambda r: r.malformed is not None)
            if rule is not None and rule.malformed is not None:
                return Decision(latency, malformed_reply(rule.malformed))
            lost = self._first(operation, kb, lambda r: r.lose_answer) is not None
            # A repeated token needs a token to repeat: requests without one pass it by.
            passes = (None,) if has_token else (None, "repeat_token")
            rule = self._first(
                operation, kb, lambda r: not r.lose_answer and r.page_fault not in passes
            )
            page_fault = None if rule is None else rule.page_fault
            return Decision(latency, page_fault=page_fault, lose_answer=lost)

    def _error(
        self, operation: str, kb: str | None, account: str, region: str
    ) -> ErrorReply | None:
        """The error a request gets, if any: over its rate limit, then scheduled, then random."""
        bucket = self._bucket(account, region) if self._limits else None
        if bucket is not None and not bucket[0].take():
            return ErrorReply(bucket[1], THROTTLING, "Rate exceeded")
        rule = self._first(operation, kb, lambda r: r.error is not None)
        if rule is not None:
            return rule.error
        chance = self._random
        if (
            chance is None
            or (chance.operations is not None and operation not in chance.operations)
            or chance.rng.random() >= chance.probability
        ):
            return None
        code, status = chance.rng.choice(chance.errors)
        return ErrorReply(status, code, "Injected fault")

    def _first(self, operation: str, kb: str | None, kind: Callable[[Rule], bool]) -> Rule | None:
        for rule in self._rules:
            if kind(rule) and rule.matches(operation, kb):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None

"""When to retry and how long to wait: RetryPolicy, its pure backoff, and the retry quota.

Throttles and failures are treated apart. A throttle means "slower", and the client's shared
send-rate limiter (``_ratelimit``) is what slows down; the retry quota exists so that an
outage (5xx, connection errors) cannot become a retry storm. So throttles count toward
``max_attempts`` but never draw from the quota: a client that is merely being throttled keeps
retrying (paced by the limiter) instead of failing, while a failing service drains the quota
within a hundred or so retries and requests then fail at their first error.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ._checks import at_least_one, not_negative, seconds
from ._config import is_testing
from ._errors import (
    THROTTLING_CODES,
    AccessDeniedError,
    ConflictError,
    CredentialsError,
    DeadlineExceededError,
    ImportJobFailedError,
    MalformedResponseError,
    PaginationLoopError,
    QConnectError,
    ResourceNotFoundError,
    ServiceQuotaExceededError,
    ThrottlingError,
    TransportError,
    ValidationError,
)

__all__ = [
    "CONNECT_FAILURES",
    "DEADLINE_EXCEEDED",
    "RetryDetails",
    "RetryPolicy",
    "RetryQuota",
    "is_connect_failure",
    "is_throttle",
]

#: The code of the DeadlineExceededError raised when a listing's deadline passes.
DEADLINE_EXCEEDED = DeadlineExceededError.default_code
#: The codes of a TransportError that says the endpoint could not be reached at all: refused,
#: not resolved, or no answer to the connection within ``connect_timeout`` (a firewall that
#: drops packets, a wrong host).
CONNECT_FAILURES = frozenset({"EndpointConnectionError", "ConnectTimeoutError"})


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """What ``RetryPolicy.on_retry`` is told before each retry (frozen).

    The hook runs on the event loop and should return quickly; an exception it raises is
    logged at ERROR and the retry goes on.
    """

    #: the attempt that failed, 1-based
    attempt: int
    #: seconds until the next attempt is sent (before any wait for the rate limiter)
    wait: float
    #: the error of the failed attempt
    cause: QConnectError
    #: the operation retried (``ListImportJobs``)
    operation: str
    #: the knowledge base of the request, when it has one
    knowledge_base_id: str | None
    #: seconds since the request's first attempt started
    elapsed: float


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How a client retries: attempts, backoff, retry quota, deadline and a hook.

    Retried: throttling (any throttling code, any 429), 5xx, connection errors and timeouts,
    request timeouts (RequestTimeoutException, 408). Never retried: validation, access denied,
    not found, conflicts (409), quotas (402), malformed answers, pagination loops, other 4xx.
    Backoff is capped exponential with full jitter; a Retry-After sent by the service is
    honoured when longer. A throttled attempt is retried after the first backoff only: the
    client's send rate does the slowing. Its fields are keyword-only (documented below).

    Raises:
        ValidationError: A field out of range (attempts below 1, negative delays or quota,
            ``max_delay`` below ``base_delay``, a deadline that is not positive).

    Example:
        ```python
        policy = RetryPolicy(
            max_attempts=5,
            deadline=60.0,
            on_retry=lambda details: print("retry", details.attempt, details.cause.code),
        )
        client = QConnectClient(region_name="us-east-1", retry=policy)
        ```
    """

    #: total attempts per request, the first included
    max_attempts: int = 10
    #: total attempts while the endpoint refuses connections, cannot be resolved or does not
    #: answer them within ``connect_timeout``: a wrong endpoint or a service that is down
    #: fails in under a second when refused (about 4 x connect_timeout when silent), not
    #: after 10 attempts
    max_connect_attempts: int = 4
    #: backoff scale: the wait after attempt n is uniform in [0, base_delay * 2**(n-1)]
    base_delay: float = 0.1
    #: cap of that upper bound, in seconds
    max_delay: float = 20.0
    #: capacity of the client's retry quota (a retry costs 5, a retried timeout 10)
    retry_quota: int = 500
    #: the default ``deadline=`` of every listing: seconds the whole stream may take (all KBs
    #: of a ``_many`` together), retries and waits included; None: no limit
    deadline: float | None = None
    #: called before each retry (the default hook is a DEBUG log line, always emitted)
    on_retry: Callable[[RetryDetails], None] | None = None

    def __post_init__(self) -> None:
        at_least_one("max_attempts", self.max_attempts)
        at_least_one("max_connect_attempts", self.max_connect_attempts)
        seconds("base_delay", self.base_delay, zero=True)
        seconds("max_delay", self.max_delay, zero=True)
        if self.max_delay < self.base_delay:
            raise ValidationError(
                f"max_delay ({self.max_delay}) must not be less than base_delay ({self.base_delay})"
            )
        not_negative("retry_quota", self.retry_quota)
        if self.deadline is not None:
            seconds("deadline", self.deadline)
        if self.on_retry is not None and not callable(self.on_retry):
            raise ValidationError(f"on_retry must be callable, not {self.on_retry!r}")

    def backoff(self, attempt: int, *, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): full jitter, capped.

        Pure but for ``rand`` (uniform in [0, 1)); zero while testing mode is on.
        """
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, not {attempt}")
        if is_testing():
            return 0.0
        # 2**(attempt-1) overflows a float past ~1024 attempts: cap the exponent first.
        ceiling = self.base_delay * 2.0 ** min(attempt - 1, 64)
        return min(self.max_delay, ceiling) * rand()

    def attempts_for(self, error: QConnectError) -> int:
        """The most attempts a request may make when its last one failed with ``error``."""
        if is_connect_failure(error):
            return min(self.max_attempts, self.max_connect_attempts)
        return self.max_attempts

    def is_retryable(self, error: QConnectError) -> bool:
        """Whether an attempt that failed with ``error`` may be tried again."""
        if isinstance(error, _NEVER_RETRIED):
            return False
        if error.code in TRANSIENT_CODES:
            return True
        if is_throttle(error):
            return True
        if isinstance(error, TransportError):
            return True
        # A ServiceError or an unmapped error: only a 5xx is worth another try.
        return error.http_status is not None and error.http_status >= 500


# Failures that another attempt cannot fix, whatever their HTTP status.
_NEVER_RETRIED = (
    ValidationError,
    CredentialsError,
    AccessDeniedError,
    ConflictError,
    ServiceQuotaExceededError,
    DeadlineExceededError,
    ResourceNotFoundError,
    MalformedResponseError,
    PaginationLoopError,
    ImportJobFailedError,
)
#: 4xx codes that mean "the request took too long in transit": another attempt may succeed.
#: qconnect's RequestTimeoutException (408) and S3's RequestTimeout (400, a slow upload).
TRANSIENT_CODES = frozenset({"RequestTimeoutException", "RequestTimeout"})


def is_throttle(error: QConnectError) -> bool:
    """Whether ``error`` says "too many requests", whatever the botocore model claims."""
    return (
        isinstance(error, ThrottlingError)
        or error.http_status == 429
        or error.code in THROTTLING_CODES
    )


def is_connect_failure(error: QConnectError) -> bool:
    """Whether ``error`` says the endpoint could not be reached at all (nothing was sent)."""
    return isinstance(error, TransportError) and error.code in CONNECT_FAILURES


class RetryQuota:
    """The per-client retry budget, AWS standard mode's token bucket.

    A retry takes ``RETRY_COST`` tokens (``TIMEOUT_COST`` after a timeout); a request that
    succeeds gives back what its last retry took, or ``SUCCESS_REFUND`` when it needed none.
    An empty quota means: stop retrying, fail with the error at hand. Throttles never come
    here (see the module docstring). One event loop, no lock needed.
    """

    RETRY_COST = 5
    TIMEOUT_COST = 10
    SUCCESS_REFUND = 1

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must not be negative, not {capacity}")
        self._capacity = capacity
        self._available = capacity

    @property
    def capacity(self) -> int:
        """The most tokens the quota holds."""
        return self._capacity

    @property
    def available(self) -> int:
        """Tokens left."""
        return self._available

    @classmethod
    def cost_of(cls, error: QConnectError) -> int:
        """Tokens a retry after ``error`` takes: 0 for a throttle, more for a timeout."""
        if is_throttle(error):
            return 0
        if isinstance(error, TransportError) and "timeout" in error.code.lower():
            return cls.TIMEOUT_COST
        return cls.RETRY_COST

    def acquire(self, cost: int) -> bool:
        """Take ``cost`` tokens if there are that many; False (and take none) otherwise."""
        if cost > self._available:
            return False
        self._available -= cost
        return True

    def release(self, amount: int) -> None:
        """Give back ``amount`` tokens, never beyond capacity."""
        self._available = min(self._capacity, self._available + amount)

"""RetryPolicy, its pure backoff, what is retried, the retry quota and the testing switch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qconnect_async._config import is_testing, set_testing
from qconnect_async._errors import (
    THROTTLING_CODES,
    AccessDeniedError,
    DeadlineExceededError,
    MalformedResponseError,
    PaginationLoopError,
    QConnectError,
    ResourceNotFoundError,
    ServiceError,
    ThrottlingError,
    TransportError,
    ValidationError,
)
from qconnect_async._retry import (
    RetryDetails,
    RetryPolicy,
    RetryQuota,
    is_connect_failure,
    is_throttle,
)


@pytest.fixture(autouse=True)
def _not_testing() -> Iterator[None]:
    """Every test starts and ends with testing mode off."""
    with set_testing(False):
        yield


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


# -- backoff -------------------------------------------------------------------------------------


def test_backoff_is_full_jitter_over_the_exponential_ceiling() -> None:
    """The wait after attempt n is rand * base * 2**(n-1): from zero up to the ceiling."""
    policy = RetryPolicy(base_delay=0.5, max_delay=100.0)
    assert policy.backoff(1, rand=fixed(0.0)) == 0.0
    assert policy.backoff(1, rand=fixed(0.5)) == pytest.approx(0.25)
    assert policy.backoff(3, rand=fixed(0.5)) == pytest.approx(1.0)
    assert policy.backoff(4, rand=fixed(0.999)) == pytest.approx(4 * 0.999)


def test_backoff_is_capped_at_max_delay() -> None:
    """However many attempts failed, no wait exceeds max_delay (and huge counts don't overflow)."""
    policy = RetryPolicy(base_delay=1.0, max_delay=7.0)
    assert policy.backoff(10, rand=fixed(0.999)) == pytest.approx(7.0 * 0.999)
    assert policy.backoff(100_000, rand=fixed(0.5)) == pytest.approx(3.5)


def test_backoff_is_pure_for_a_given_rand() -> None:
    """Same attempt and same random draw give the same wait: no hidden state."""
    policy = RetryPolicy()
    waits = {policy.backoff(5, rand=fixed(0.3)) for _ in range(10)}
    assert len(waits) == 1


def test_backoff_stays_within_bounds_with_the_real_random() -> None:
    """With the default random source every wait lies in [0, min(cap, base * 2**(n-1)))."""
    policy = RetryPolicy(base_delay=0.2, max_delay=1.0)
    for attempt in range(1, 12):
        ceiling = min(1.0, 0.2 * 2 ** (attempt - 1))
        assert all(0.0 <= policy.backoff(attempt) < ceiling for _ in range(50))


def test_backoff_rejects_attempt_zero() -> None:
    """Attempts are counted from 1."""
    with pytest.raises(ValueError, match="1-based"):
        RetryPolicy().backoff(0)


# -- what is retried -----------------------------------------------------------------------------

RETRIED = [
    ThrottlingError("slow down", code="ThrottlingException", http_status=400),
    ThrottlingError("too many", code="TooManyRequestsException", http_status=429),
    QConnectError("unknown code, 429", code="Whatever", http_status=429),
    ServiceError("boom", code="InternalServerException", http_status=500),
    ServiceError("unavailable", code="ServiceUnavailable", http_status=503),
    QConnectError("unmapped 5xx", code="Weird", http_status=502),
    TransportError("read timed out", code="ReadTimeoutError"),
    TransportError("refused", code="EndpointConnectionError"),
]

NOT_RETRIED = [
    ValidationError("bad", code="ValidationException", http_status=400),
    AccessDeniedError("no", http_status=403),
    ResourceNotFoundError("gone", http_status=404),
    MalformedResponseError("bad json", http_status=200),
    PaginationLoopError("loop"),
    QConnectError("conflict", code="ConflictException", http_status=409),
    ServiceError("no status", code="SomethingNew", http_status=None),
    DeadlineExceededError("too late"),
]


@pytest.mark.parametrize("error", RETRIED, ids=repr)
def test_transient_failures_are_retried(error: QConnectError) -> None:
    """Throttling (by class, code or 429), 5xx and transport failures are retryable."""
    assert RetryPolicy().is_retryable(error)


@pytest.mark.parametrize("error", NOT_RETRIED, ids=repr)
def test_permanent_failures_are_not_retried(error: QConnectError) -> None:
    """Validation, access, not found, malformed, loops, other 4xx and deadlines are final."""
    assert not RetryPolicy().is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("bad", http_status=503),
        AccessDeniedError("no", http_status=429),
        MalformedResponseError("html from a proxy", http_status=502),
        PaginationLoopError("loop", http_status=500),
    ],
    ids=repr,
)
def test_permanent_failures_are_final_whatever_their_status(error: QConnectError) -> None:
    """The classes that name a permanent failure are never retried, even with a 5xx or 429."""
    assert not RetryPolicy().is_retryable(error)


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
def test_every_throttling_code_is_a_throttle(code: str) -> None:
    """A throttling code counts as a throttle whatever class or status carries it."""
    assert is_throttle(ServiceError("x", code=code, http_status=400))
    assert RetryPolicy().is_retryable(QConnectError("x", code=code, http_status=400))


# -- the retry quota -----------------------------------------------------------------------------


def test_quota_drains_and_refuses_without_taking() -> None:
    """Retries take tokens until the quota cannot pay; a refused acquire takes nothing."""
    quota = RetryQuota(12)
    assert quota.acquire(RetryQuota.RETRY_COST)
    assert quota.acquire(RetryQuota.RETRY_COST)
    assert quota.available == 2
    assert not quota.acquire(RetryQuota.RETRY_COST)
    assert quota.available == 2


def test_quota_refund_is_capped_at_capacity() -> None:
    """Refunds give tokens back but never beyond the capacity."""
    quota = RetryQuota(20)
    quota.acquire(10)
    quota.release(4)
    assert quota.available == 14
    quota.release(100)
    assert quota.available == quota.capacity == 20


def test_quota_costs_throttles_nothing_and_timeouts_double() -> None:
    """A throttle costs no quota, a timeout twice an ordinary failure."""
    assert RetryQuota.cost_of(ThrottlingError("t")) == 0
    assert RetryQuota.cost_of(QConnectError("t", http_status=429)) == 0
    assert RetryQuota.cost_of(TransportError("t", code="ReadTimeoutError")) == 10
    assert RetryQuota.cost_of(TransportError("t", code="ConnectTimeoutError")) == 10
    assert RetryQuota.cost_of(TransportError("t", code="EndpointConnectionError")) == 5
    assert RetryQuota.cost_of(ServiceError("t", http_status=500)) == 5


def test_default_quota_stops_an_outage_after_a_hundred_retries() -> None:
    """The default quota pays for 100 ordinary retries, then refuses."""
    quota = RetryQuota(RetryPolicy().retry_quota)
    paid = 0
    while quota.acquire(RetryQuota.RETRY_COST):
        paid += 1
    assert paid == 100


# -- testing switch ------------------------------------------------------------------------------


def test_testing_mode_zeroes_backoff() -> None:
    """set_testing(True) makes every backoff zero; off again restores it."""
    policy = RetryPolicy(base_delay=1.0)
    set_testing(True)
    assert is_testing()
    assert policy.backoff(5, rand=fixed(0.9)) == 0.0
    set_testing(False)
    assert policy.backoff(5, rand=fixed(0.9)) == pytest.approx(16 * 0.9)


# -- the policy itself ---------------------------------------------------------------------------


def test_defaults_suit_a_production_client() -> None:
    """Defaults: 10 attempts, 0.1 s base, 20 s cap, quota 500, no deadline, no hook."""
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay, policy.max_delay) == (10, 0.1, 20.0)
    assert (policy.retry_quota, policy.deadline, policy.on_retry) == (500, None, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": 2.5},
        {"max_attempts": True},
        {"base_delay": -1.0},
        {"base_delay": float("nan")},
        {"max_delay": float("inf")},
        {"base_delay": 5.0, "max_delay": 1.0},
        {"retry_quota": -5},
        {"retry_quota": 1.5},
        {"deadline": 0},
        {"deadline": -3.0},
        {"deadline": "10"},
        {"on_retry": "print"},
    ],
    ids=repr,
)
def test_invalid_values_are_rejected(kwargs: dict[str, Any]) -> None:
    """A policy that makes no sense fails at construction with a ValueError."""
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be an int of at least 1, not 0"),
        ({"max_connect_attempts": 0}, "max_connect_attempts must be an int of at least 1, not 0"),
        (
            {"base_delay": -1.0},
            "base_delay must be a finite, non-negative number of seconds, not -1.0",
        ),
        (
            {"max_delay": float("inf")},
            "max_delay must be a finite, non-negative number of seconds, not inf",
        ),
        ({"retry_quota": -5}, "retry_quota must be an int of at least 0, not -5"),
        ({"deadline": 0}, "deadline must be a positive number of seconds, not 0"),
        ({"on_retry": "print"}, "on_retry must be callable, not 'print'"),
    ],
    ids=repr,
)
def test_a_refused_setting_is_named_in_the_error(kwargs: dict[str, Any], message: str) -> None:
    """The error says which setting was refused and why, in the words the policy is built with."""
    with pytest.raises(ValidationError) as info:
        RetryPolicy(**kwargs)
    assert info.value.message == message


def test_no_backoff_at_all_is_a_policy() -> None:
    """base_delay and max_delay of 0: every retry at once (a policy, not a mistake)."""
    policy = RetryPolicy(base_delay=0, max_delay=0)
    assert policy.backoff(3, rand=lambda: 0.5) == 0.0


def test_a_negative_retry_quota_capacity_is_refused_in_words() -> None:
    """A quota cannot hold less than nothing."""
    with pytest.raises(ValueError) as info:
        RetryQuota(-1)
    assert str(info.value) == "capacity must not be negative, not -1"


def test_policy_is_frozen_and_keyword_only() -> None:
    """A policy cannot change after construction and takes keywords only."""
    policy = RetryPolicy(max_attempts=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[call-arg]


def test_retry_details_are_frozen() -> None:
    """The details given to on_retry cannot be altered by the hook."""
    details = RetryDetails(
        attempt=1,
        wait=0.5,
        cause=ThrottlingError("t"),
        operation="ListImportJobs",
        knowledge_base_id="kb",
        elapsed=0.1,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        details.attempt = 2  # type: ignore[misc]


def test_only_a_transport_error_can_be_a_failure_to_connect() -> None:
    """An error the service sent is never "could not connect", whatever its code says."""
    assert is_connect_failure(TransportError("down", code="EndpointConnectionError"))
    assert not is_connect_failure(
        ServiceError("odd", code="EndpointConnectionError", http_status=500)
    )

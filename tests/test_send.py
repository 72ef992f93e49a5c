"""Sender: retries, Retry-After, the quota, the hook, deadlines, concurrency, cancellation.

No test sleeps: every test runs on the loop's fake clock (FakeClockLoop), which jumps to the
next timer whenever every task is waiting; the sender gets that clock (FakeTime's view).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from _fake_time import FakeTime
from qconnect_async._call import BULK, INTERACTIVE, Call
from qconnect_async._config import set_testing
from qconnect_async._errors import (
    AccessDeniedError,
    MalformedResponseError,
    PaginationLoopError,
    QConnectError,
    RateWaitExceededError,
    ResourceNotFoundError,
    ServiceError,
    ThrottlingError,
    TransportError,
    ValidationError,
)
from qconnect_async._ratecontrol import RateController
from qconnect_async._ratelimit import AdaptiveRateLimiter, SendOutcome
from qconnect_async._retry import DEADLINE_EXCEEDED, RetryDetails, RetryPolicy
from qconnect_async._send import Sender

pytestmark = pytest.mark.fake_clock

T = TypeVar("T")
OP = "ListImportJobs"
KB = "kb-1"


@pytest.fixture(autouse=True)
def _not_testing() -> Iterator[None]:
    """Every test starts and ends with testing mode off."""
    with set_testing(False):
        yield


Outcome = Exception | str


class Script:
    """An attempt that plays outcomes in order (the last one repeats), each taking ``duration``."""

    def __init__(self, ft: FakeTime, *outcomes: Outcome, duration: float = 0.0) -> None:
        self._ft = ft
        self._outcomes = outcomes
        self._duration = duration
        self.times: list[float] = []  # when each call started
        self.cancelled = False

    @property
    def calls(self) -> int:
        return len(self.times)

    async def __call__(self) -> str:
        self.times.append(self._ft.now)
        outcome = self._outcomes[min(len(self.times), len(self._outcomes)) - 1]
        if self._duration:
            try:
                await self._ft.sleep(self._duration)
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def make_sender(
    ft: FakeTime,
    policy: RetryPolicy | None = None,
    *,
    max_concurrency: int = 4,
    rand: float = 0.5,
) -> Sender:
    return Sender(
        policy=policy or RetryPolicy(),
        limiter=AdaptiveRateLimiter(),
        max_concurrency=max_concurrency,
        sleep=ft.sleep,
        rand=lambda: rand,
    )


def unavailable(retry_after: float | None = None) -> ServiceError:
    return ServiceError(
        "unavailable", code="ServiceUnavailable", http_status=503, retry_after=retry_after
    )


async def send(
    ft: FakeTime, sender: Sender, attempt: Callable[[], Awaitable[str]], **kw: float
) -> str:
    return await ft.run(sender.send(Call(OP, KB, **kw), attempt))


# -- retried or not ------------------------------------------------------------------------------


async def test_a_success_takes_one_attempt_and_no_wait() -> None:
    """A request that succeeds is sent once, nothing waits, and the slot is given back."""
    ft = FakeTime()
    sender = make_sender(ft)
    script = Script(ft, "page")
    assert await send(ft, sender, script) == "page"
    assert script.calls == 1
    assert ft.sleeps == []
    assert sender.in_flight == 0
    assert sender.quota.available == sender.quota.capacity


@pytest.mark.parametrize(
    "error",
    [
        ThrottlingError("slow down", code="ThrottlingException", http_status=400),
        QConnectError("too many", code="Unknown", http_status=429),
        ServiceError("boom", code="InternalServerException", http_status=500),
        TransportError("read timed out", code="ReadTimeoutError"),
        TransportError("refused", code="EndpointConnectionError"),
    ],
    ids=repr,
)
async def test_transient_failures_are_retried_until_success(error: QConnectError) -> None:
    """Throttles, 5xx and transport failures are tried again until an attempt succeeds."""
    ft = FakeTime()
    sender = make_sender(ft)
    script = Script(ft, error, error, "page")
    assert await send(ft, sender, script) == "page"
    assert script.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("bad", http_status=400),
        AccessDeniedError("no", http_status=403),
        ResourceNotFoundError("gone", http_status=404),
        MalformedResponseError("bad json", http_status=200),
        PaginationLoopError("loop"),
        QConnectError("conflict", code="ConflictException", http_status=409),
    ],
    ids=repr,
)
async def test_permanent_failures_are_raised_at_once(error: QConnectError) -> None:
    """Errors a retry cannot fix are raised after one attempt, the very same object."""
    ft = FakeTime()
    sender = make_sender(ft)
    script = Script(ft, error, "page")
    with pytest.raises(QConnectError) as caught:
        await send(ft, sender, script)
    assert caught.value is error
    assert script.calls == 1


async def test_other_exceptions_are_not_retried() -> None:
    """An exception outside the library's tree (a bug) goes straight through."""
    ft = FakeTime()
    sender = make_sender(ft)
    script = Script(ft, RuntimeError("bug"), "page")
    with pytest.raises(RuntimeError, match="bug"):
        await send(ft, sender, script)
    assert script.calls == 1
    assert sender.in_flight == 0


async def test_the_final_error_is_the_last_attempts_own_object_with_its_cause() -> None:
    """When retries run out, the last attempt's error is raised untouched, cause and all."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(max_attempts=3))
    errors = [unavailable() for _ in range(3)]
    causes = [OSError(f"socket {i}") for i in range(3)]
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        try:
            raise causes[calls - 1]
        except OSError as exc:
            raise errors[calls - 1] from exc

    with pytest.raises(ServiceError) as caught:
        await send(ft, sender, attempt)
    assert caught.value is errors[2]
    assert caught.value.__cause__ is causes[2]


async def test_attempts_are_bounded_by_max_attempts() -> None:
    """A request that keeps failing is tried max_attempts times in all."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(max_attempts=4))
    script = Script(ft, unavailable())
    with pytest.raises(ServiceError):
        await send(ft, sender, script)
    assert script.calls == 4


# -- waits ---------------------------------------------------------------------------------------


async def test_backoff_grows_between_attempts() -> None:
    """Attempts are spaced by the policy's jittered exponential backoff."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=1.0), rand=0.5)
    script = Script(ft, unavailable(), unavailable(), unavailable(), "page")
    await send(ft, sender, script)
    assert script.times == [0.0, 0.5, 1.5, 3.5]


async def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    """The service's Retry-After wins over a shorter backoff."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=0.1))
    script = Script(ft, unavailable(retry_after=7.0), "page")
    await send(ft, sender, script)
    assert script.times == [0.0, 7.0]


async def test_backoff_is_kept_when_longer_than_retry_after() -> None:
    """A Retry-After shorter than the backoff does not shorten it."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=4.0), rand=0.5)
    script = Script(ft, unavailable(retry_after=0.5), "page")
    await send(ft, sender, script)
    assert script.times == [0.0, 2.0]


async def test_testing_mode_skips_every_wait() -> None:
    """With set_testing(True) neither backoff nor Retry-After makes the request wait."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=10.0))
    script = Script(ft, unavailable(retry_after=30.0), unavailable(), "page")
    with set_testing(True):
        await send(ft, sender, script)
    assert script.times == [0.0, 0.0, 0.0]


# -- the retry quota -----------------------------------------------------------------------------


async def test_an_empty_quota_stops_retrying() -> None:
    """Once the client's quota cannot pay for a retry, errors are raised as they come."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(retry_quota=10))
    script = Script(ft, unavailable())
    with pytest.raises(ServiceError):
        await send(ft, sender, script)
    assert script.calls == 3  # two retries at 5 tokens each
    later = Script(ft, unavailable(), "page")
    with pytest.raises(ServiceError):
        await send(ft, sender, later)
    assert later.calls == 1


async def test_throttles_do_not_spend_the_quota() -> None:
    """Throttled requests retry even with an empty quota: the limiter slows them instead."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(retry_quota=0))
    script = Script(ft, ThrottlingError("slow"), ThrottlingError("slow"), "page")
    assert await send(ft, sender, script) == "page"


async def test_a_success_refunds_what_its_retry_took() -> None:
    """A retried request that succeeds gives its retry's tokens back to the quota."""
    ft = FakeTime()
    seen: list[int] = []

    def note(details: RetryDetails) -> None:
        seen.append(sender.quota.available)

    sender = make_sender(ft, RetryPolicy(on_retry=note))
    timeout = TransportError("timed out", code="ReadTimeoutError")
    await send(ft, sender, Script(ft, timeout, "page"))
    assert seen == [490]
    assert sender.quota.available == 500


# -- the hook and the log ------------------------------------------------------------------------


async def test_on_retry_receives_the_details_of_each_retry() -> None:
    """The hook is told which attempt failed, why, how long until the next, and where."""
    ft = FakeTime()
    details: list[RetryDetails] = []
    sender = make_sender(ft, RetryPolicy(base_delay=1.0, on_retry=details.append), rand=0.5)
    first, second = unavailable(), TransportError("timed out", code="ReadTimeoutError")
    await send(ft, sender, Script(ft, first, second, "page", duration=0.25))
    assert details == [
        RetryDetails(
            attempt=1, wait=0.5, cause=first, operation=OP, knowledge_base_id=KB, elapsed=0.25
        ),
        RetryDetails(
            attempt=2, wait=1.0, cause=second, operation=OP, knowledge_base_id=KB, elapsed=1.0
        ),
    ]


async def test_a_retrys_elapsed_time_counts_from_the_requests_start() -> None:
    """``elapsed`` is the time since this request started, whatever the clock read then."""
    ft = FakeTime()
    await ft.advance(100.0)
    details: list[RetryDetails] = []
    sender = make_sender(ft, RetryPolicy(base_delay=1.0, on_retry=details.append), rand=0.5)
    await send(ft, sender, Script(ft, unavailable(), "page", duration=0.25))
    assert [d.elapsed for d in details] == [pytest.approx(0.25)]


async def test_a_closed_sender_sends_nothing_and_says_why() -> None:
    """After close() a send raises RuntimeError("this QConnectClient is closed"), unsent."""
    ft = FakeTime()
    sender = make_sender(ft)
    sender.close()
    script = Script(ft, "page")
    with pytest.raises(RuntimeError) as info:
        await send(ft, sender, script)
    assert str(info.value) == "this QConnectClient is closed"
    assert script.calls == 0


async def test_each_retry_is_logged_with_its_cause_wait_and_kb(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before each retry one DEBUG line says which attempt failed, its code, the wait, the KB."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=1.0), rand=0.5)
    with caplog.at_level(logging.DEBUG, logger="qconnect_async"):
        await send(ft, sender, Script(ft, unavailable(), "page"))
    said = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert said == [
        f"{OP} attempt 1 failed (ServiceUnavailable), retrying in 0.500s (knowledge_base_id={KB})"
    ]


async def test_a_throttled_attempt_waits_the_first_backoff_only() -> None:
    """Throttles slow the client through its rate limiter: their backoff does not grow with
    the attempts (other errors' does), so requests do not sleep on after the throttling ends."""
    ft = FakeTime()
    details: list[RetryDetails] = []
    sender = make_sender(ft, RetryPolicy(base_delay=1.0, on_retry=details.append), rand=0.5)
    throttle = ThrottlingError("slow down", code="ThrottlingException", http_status=400)
    await send(ft, sender, Script(ft, throttle, throttle, throttle, "page"))
    assert [d.wait for d in details] == [0.5, 0.5, 0.5]


async def test_a_failing_hook_is_logged_and_the_request_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception in on_retry is logged; the retry still happens and succeeds."""

    def broken(details: RetryDetails) -> None:
        raise RuntimeError("hook bug")

    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(on_retry=broken))
    with caplog.at_level(logging.DEBUG, logger="qconnect_async"):
        assert await send(ft, sender, Script(ft, unavailable(), "page")) == "page"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage() == "the on_retry hook raised; the retry goes on"
    assert errors[0].exc_info is not None
    assert "hook bug" in str(errors[0].exc_info[1])


async def test_retries_are_logged_at_debug_never_as_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A retry and its recovery are DEBUG lines of the library's logger, nothing louder; a
    request that succeeds at once logs neither."""
    ft = FakeTime()
    sender = make_sender(ft)
    with caplog.at_level(logging.DEBUG, logger="qconnect_async"):
        await send(ft, sender, Script(ft, "page"))
        await send(ft, sender, Script(ft, unavailable(), "page"))
    records = [r for r in caplog.records if r.name == "qconnect_async"]
    assert [r.levelno for r in records] == [logging.DEBUG, logging.DEBUG]
    assert "retrying" in records[0].getMessage()
    assert "recovered" in records[1].getMessage()
    assert records[1].getMessage() == f"{OP} recovered after 2 attempts (knowledge_base_id={KB})"
    assert all(KB in r.getMessage() and OP in r.getMessage() for r in records)


# -- deadline ------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [5.0, 2.0], ids=["past", "at"])
async def test_no_retry_when_the_backoff_would_end_past_the_deadline(retry_after: float) -> None:
    """If the next attempt could not start before the deadline (past it, or at it), the last
    error is raised now."""
    ft = FakeTime()
    sender = make_sender(ft)
    error = unavailable(retry_after=retry_after)
    script = Script(ft, error, "page")
    with pytest.raises(ServiceError) as caught:
        await send(ft, sender, script, deadline=2.0)
    assert caught.value is error
    assert script.calls == 1
    assert ft.now == 0.0


async def test_an_attempt_running_past_the_deadline_is_cancelled() -> None:
    """An attempt still running at the deadline is cancelled: DeadlineExceeded, not retried."""
    ft = FakeTime()
    sender = make_sender(ft)
    script = Script(ft, "page", duration=10.0)
    with pytest.raises(TransportError) as caught:
        await send(ft, sender, script, deadline=3.0)
    error = caught.value
    assert (error.code, error.operation, error.knowledge_base_id) == (DEADLINE_EXCEEDED, OP, KB)
    assert script.cancelled
    assert script.calls == 1
    assert ft.now == 3.0
    assert sender.in_flight == 0


async def test_a_deadline_leaves_no_cancellation_pending_on_the_task() -> None:
    """After DeadlineExceeded the caller's task is not left marked as being cancelled."""
    ft = FakeTime()
    sender = make_sender(ft)

    async def caller() -> int:
        with pytest.raises(TransportError):
            await sender.send(Call(OP, deadline=3.0), Script(ft, "page", duration=10.0))
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert await ft.run(caller()) == 0


async def test_a_cancellation_at_the_deadline_stays_a_cancellation() -> None:
    """Cancelled from outside at the very moment the deadline passes, the request is cancelled."""
    ft = FakeTime()
    sender = make_sender(ft)
    script = Script(ft, "page", duration=10.0)
    task = asyncio.ensure_future(sender.send(Call(OP, deadline=3.0), script))
    asyncio.get_running_loop().call_at(3.0, task.cancel)  # the deadline's instant
    await ft.run(asyncio.gather(task, return_exceptions=True))
    assert task.cancelled()


@pytest.mark.parametrize("deadline", [4.0, 5.0], ids=["passed", "now"])
async def test_nothing_is_sent_once_the_deadline_has_passed(deadline: float) -> None:
    """A request that starts after its deadline, or at it, fails without sending."""
    ft = FakeTime()
    ft.now = 5.0
    sender = make_sender(ft)
    script = Script(ft, "page")
    with pytest.raises(TransportError, match="deadline"):
        await send(ft, sender, script, deadline=deadline)
    assert script.calls == 0


async def test_the_deadline_covers_the_wait_for_a_slot() -> None:
    """Waiting for a concurrency slot counts against the deadline too."""
    ft = FakeTime()
    sender = make_sender(ft, max_concurrency=1)
    slow = Script(ft, "slow", duration=10.0)
    late = Script(ft, "late")
    results = await ft.run(
        asyncio.gather(
            sender.send(Call(OP), slow),
            sender.send(Call(OP, deadline=2.0), late),
            return_exceptions=True,
        )
    )
    assert results[0] == "slow"
    assert isinstance(results[1], TransportError)
    assert results[1].code == DEADLINE_EXCEEDED
    assert late.calls == 0


async def test_a_deadline_that_is_not_reached_changes_nothing() -> None:
    """An attempt that ends before the deadline returns normally and leaves no task behind."""
    ft = FakeTime()
    sender = make_sender(ft)
    test_task = asyncio.current_task()

    async def body() -> tuple[str, list[asyncio.Task[object]]]:
        page = await sender.send(Call(OP, deadline=3.0), Script(ft, "page", duration=1.0))
        mine = asyncio.current_task()
        return page, [t for t in asyncio.all_tasks() if t not in (mine, test_task)]

    assert await ft.run(body()) == ("page", [])


# -- concurrency and cancellation ----------------------------------------------------------------


async def test_never_more_attempts_in_flight_than_max_concurrency() -> None:
    """However many requests run at once, at most max_concurrency attempts are in flight."""
    ft = FakeTime()
    sender = make_sender(ft, max_concurrency=4)
    peak = 0

    async def attempt() -> str:
        nonlocal peak
        peak = max(peak, sender.in_flight)
        await ft.sleep(0.1)
        return "page"

    results = await ft.run(asyncio.gather(*(sender.send(Call(OP), attempt) for _ in range(40))))
    assert results == ["page"] * 40
    assert peak == 4
    assert sender.in_flight == 0
    # The slow start's rounds: 1, 2, 3, then 5, 8, 12 and the last 9 through four slots, each
    # round once the last is answered (two, two, three and three round trips): 13 in all.
    assert ft.now == pytest.approx(1.3)


async def test_no_slot_is_held_while_backing_off() -> None:
    """A request backing off leaves its slot to others."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=10.0), max_concurrency=1, rand=0.5)
    backing_off = Script(ft, unavailable(), "page")
    other = Script(ft, "other", duration=1.0)

    async def later() -> str:
        await ft.sleep(0.1)
        return await sender.send(Call(OP), other)

    await ft.run(asyncio.gather(sender.send(Call(OP), backing_off), later()))
    assert backing_off.times == [0.0, 5.0]
    assert other.times == [0.1]


async def test_cancelling_a_send_releases_its_slot_at_once() -> None:
    """A cancelled request frees its slot: the next one is sent at the same moment."""
    ft = FakeTime()
    sender = make_sender(ft, max_concurrency=1)
    hung = Script(ft, "never", duration=100.0)
    nxt = Script(ft, "page")
    task = asyncio.ensure_future(sender.send(Call(OP), hung))
    waiting = asyncio.ensure_future(sender.send(Call(OP), nxt))
    await ft.advance(1.0)
    assert sender.in_flight == 1
    task.cancel()
    assert await ft.run(waiting) == "page"
    assert task.cancelled()
    assert hung.cancelled
    assert nxt.times == [1.0]
    assert sender.in_flight == 0


async def test_cancelling_during_backoff_stops_the_request() -> None:
    """A request cancelled while it waits to retry sends nothing more."""
    ft = FakeTime()
    sender = make_sender(ft, RetryPolicy(base_delay=10.0), rand=0.5)
    script = Script(ft, unavailable(), "page")
    task = asyncio.ensure_future(sender.send(Call(OP), script))
    await ft.advance(1.0)
    task.cancel()
    await ft.advance(10.0)
    assert task.cancelled()
    assert script.calls == 1


async def test_cancelling_a_send_waiting_for_the_limiter_leaves_nothing_behind() -> None:
    """A request cancelled in the limiter's line frees its slot and its place in line."""
    ft = FakeTime()
    sender = make_sender(ft, max_concurrency=8)
    # One throttle turns the limiter on: the sends below wait for its tokens.
    await send(ft, sender, Script(ft, ThrottlingError("slow"), "page"))
    assert sender.limiter.enabled
    scripts = [Script(ft, "page") for _ in range(4)]
    tasks = [asyncio.ensure_future(sender.send(Call(OP), s)) for s in scripts]
    await ft.advance(0.0)
    tasks[0].cancel()  # the head of the limiter's line
    tasks[2].cancel()  # one behind it
    await ft.run(asyncio.gather(*tasks, return_exceptions=True))
    assert [s.calls for s in scripts] == [0, 1, 0, 1]
    assert sender.in_flight == 0
    assert await send(ft, sender, Script(ft, "again")) == "again"


async def test_throttles_turn_the_limiter_on_and_other_errors_do_not() -> None:
    """Only a throttle tells the limiter to slow down."""
    ft = FakeTime()
    sender = make_sender(ft)
    await send(
        ft, sender, Script(ft, unavailable(), TransportError("x", code="ReadTimeoutError"), "p")
    )
    assert not sender.limiter.enabled
    await send(ft, sender, Script(ft, ThrottlingError("slow"), "page"))
    assert sender.limiter.enabled


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_max_concurrency_must_be_a_positive_int(value: object) -> None:
    """A sender without a single slot makes no sense: the error names the setting."""
    with pytest.raises(ValidationError) as info:
        Sender(policy=RetryPolicy(), limiter=AdaptiveRateLimiter(), max_concurrency=value)  # type: ignore[arg-type]
    assert info.value.message == f"max_concurrency must be an int of at least 1, not {value!r}"


class Recording(AdaptiveRateLimiter):
    """The default limiter, recording what the sender tells it."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[SendOutcome] = []

    def release(self, permit: float, outcome: SendOutcome) -> None:
        self.told.append(outcome)
        super().release(permit, outcome)


@pytest.mark.parametrize(
    ("outcome", "told"),
    [
        ("page", SendOutcome.ACCEPTED),
        (unavailable(), SendOutcome.ACCEPTED),
        (ThrottlingError("slow", http_status=400), SendOutcome.THROTTLED),
        (
            ServiceError("slow", code="TooManyRequestsException", http_status=429),
            SendOutcome.THROTTLED,
        ),
        (TransportError("x", code="ReadTimeoutError"), SendOutcome.ABANDONED),
    ],
    ids=["answer", "5xx", "throttle", "429", "no-answer"],
)
async def test_the_limiter_is_told_each_attempts_outcome_once(
    outcome: Outcome, told: SendOutcome
) -> None:
    """Every attempt: one acquire, one release with what the answer says (or no answer)."""
    ft = FakeTime()
    limiter = Recording()
    sender = Sender(
        policy=RetryPolicy(max_attempts=1),
        limiter=limiter,
        max_concurrency=2,
        sleep=ft.sleep,
    )
    with contextlib.suppress(QConnectError):
        await send(ft, sender, Script(ft, outcome))
    assert limiter.told == [told]
    assert limiter.in_flight == 0


async def test_a_cancelled_attempt_is_released_as_abandoned() -> None:
    """An attempt cancelled in flight tells the limiter it had no answer."""
    ft = FakeTime()
    limiter = Recording()
    sender = Sender(policy=RetryPolicy(), limiter=limiter, max_concurrency=2, sleep=ft.sleep)
    task = asyncio.ensure_future(sender.send(Call(OP), Script(ft, "page", duration=5.0)))
    await ft.advance(1.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert limiter.told == [SendOutcome.ABANDONED]
    assert limiter.in_flight == 0


# -- a limiter's line given up: permits handed back, cancellations kept --------------------------


class HeldLimiter:
    """A third-party limiter (no ``priority``) whose first acquire waits until cancelled, then
    spends ``cleanup`` seconds ending (as a Redis round trip does); ``grant`` says whether that
    acquire hands out its permit anyway (the grant crossed the cancel). Later acquires are free.
    """

    rate = float("inf")

    def __init__(self, ft: FakeTime, *, cleanup: float, grant: bool) -> None:
        self._ft = ft
        self._cleanup = cleanup
        self._grant = grant
        self.acquired = 0
        self.told: list[tuple[int, SendOutcome]] = []

    async def acquire(self) -> int:
        self.acquired += 1
        permit = self.acquired
        if permit > 1:
            return permit
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self._ft.sleep(self._cleanup)
            if not self._grant:
                raise
        return permit

    def release(self, permit: int, outcome: SendOutcome) -> None:
        self.told.append((permit, outcome))


async def test_a_permit_granted_as_its_wait_is_cancelled_goes_back_unused() -> None:
    """A bulk request cancelled at the limiter whose permit arrives anyway hands that permit
    back as ABANDONED (nothing was sent), once."""
    ft = FakeTime()
    limiter = HeldLimiter(ft, cleanup=0.5, grant=True)
    sender = Sender(policy=RetryPolicy(), limiter=limiter, max_concurrency=1, sleep=ft.sleep)
    script = Script(ft, "page")
    task = asyncio.ensure_future(sender.send(Call(OP, KB, priority=BULK), script))
    await ft.advance(1.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert limiter.told == [(1, SendOutcome.ABANDONED)]
    assert script.calls == 0
    assert sender.in_flight == 0


async def test_a_bulk_request_cancelled_while_giving_way_stays_cancelled() -> None:
    """A bulk request giving its slot to an interactive one, cancelled while the limiter
    cleans up its wait, ends cancelled: it never goes back to the line nor sends."""
    ft = FakeTime()
    limiter = HeldLimiter(ft, cleanup=1.0, grant=False)
    sender = Sender(policy=RetryPolicy(), limiter=limiter, max_concurrency=1, sleep=ft.sleep)
    bulk_script, interactive_script = Script(ft, "bulk"), Script(ft, "interactive")
    bulk = asyncio.ensure_future(sender.send(Call(OP, KB, priority=BULK), bulk_script))
    await ft.advance(1.0)  # bulk holds the only slot, waiting for the limiter
    interactive = asyncio.ensure_future(
        sender.send(Call(OP, KB, priority=INTERACTIVE), interactive_script)
    )
    await ft.advance(0.5)  # bulk was asked to give way; the limiter is cleaning up
    bulk.cancel()
    assert await ft.run(interactive) == "interactive"
    await asyncio.gather(bulk, return_exceptions=True)
    assert bulk.cancelled()
    assert bulk_script.calls == 0
    assert limiter.told == [(2, SendOutcome.ACCEPTED)]


# -- max_rate_wait with a limiter that has no expected_wait: the line spread at its rate ---------


class SpacedLimiter:
    """A third-party limiter that lets one send go every 1 / ``rate`` s (none at rate 0: no
    pacing), without ``expected_wait``: the sender spreads the line at ``rate``."""

    def __init__(self, ft: FakeTime, rate: float) -> None:
        self._ft = ft
        self.rate = rate
        self._next = ft.now

    async def acquire(self) -> None:
        if self.rate > 0:
            start = max(self._next, self._ft.now)
            self._next = start + 1 / self.rate
            await self._ft.sleep(start - self._ft.now)

    def release(self, permit: None, outcome: SendOutcome) -> None:
        pass


async def test_max_rate_wait_spreads_the_line_ahead_at_a_limiters_rate() -> None:
    """At 0.5 sends/s, one request in line ahead means about 2 s: max_rate_wait=1.5 refuses
    at once with retry_after 2 s, and max_rate_wait=2.5 is sent."""
    ft = FakeTime()
    sender = Sender(
        policy=RetryPolicy(), limiter=SpacedLimiter(ft, 0.5), max_concurrency=4, sleep=ft.sleep
    )
    await send(ft, sender, Script(ft, "first"))  # the next send is 2 s away
    ahead = asyncio.ensure_future(sender.send(Call(OP, KB), Script(ft, "ahead")))
    await ft.advance(0.0)
    script = Script(ft, "page")
    with pytest.raises(RateWaitExceededError) as info:
        await sender.send(Call(OP, KB, max_rate_wait=1.5), script)
    assert info.value.retry_after == pytest.approx(2.0)
    assert "about 2.00 s, longer than its max_rate_wait of 1.5 s" in info.value.message
    assert script.calls == 0
    assert await send(ft, sender, script, max_rate_wait=4.5) == "page"
    assert await ahead == "ahead"


async def test_max_rate_wait_never_refuses_at_a_limiter_that_does_not_pace() -> None:
    """A limiter whose rate is 0 (not pacing) gives no expected wait: a request with a short
    max_rate_wait is sent."""
    ft = FakeTime()
    sender = Sender(
        policy=RetryPolicy(), limiter=SpacedLimiter(ft, 0.0), max_concurrency=1, sleep=ft.sleep
    )
    assert await send(ft, sender, Script(ft, "page"), max_rate_wait=0.5) == "page"


async def test_testing_mode_never_refuses_for_the_send_rate() -> None:
    """With set_testing(True) no pacing wait is expected: a request with a short
    max_rate_wait is sent at a limiter that paces slowly."""
    ft = FakeTime()
    sender = Sender(
        policy=RetryPolicy(), limiter=SpacedLimiter(ft, 0.01), max_concurrency=1, sleep=ft.sleep
    )
    with set_testing(True):
        assert await send(ft, sender, Script(ft, "page"), max_rate_wait=0.5) == "page"


def paced_sender(ft: FakeTime, rate: float, *, max_concurrency: int = 8) -> Sender:
    """A sender whose limiter (ranked: interactive first) paces steadily at ``rate`` sends/s."""
    control = RateController(scale=1e-12, hold=1e9, quiet=1e9, min_rate=0.1)
    control.pace_at(ft.now, rate)
    limiter = AdaptiveRateLimiter(controller=control)
    return Sender(
        policy=RetryPolicy(), limiter=limiter, max_concurrency=max_concurrency, sleep=ft.sleep
    )


async def test_an_interactive_request_counts_only_the_interactive_line_ahead() -> None:
    """At 1 send/s with three bulk requests waiting, an interactive request goes first at the
    limiter: max_rate_wait=1.5 is enough for it, and not for one more bulk request."""
    ft = FakeTime()
    sender = paced_sender(ft, 1.0)
    await send(ft, sender, Script(ft, "first"))  # spends the bucket's token
    bulk = [
        asyncio.ensure_future(sender.send(Call(OP, KB, priority=BULK), Script(ft, "bulk")))
        for _ in range(3)
    ]
    await ft.advance(0.0)
    interactive = Call(OP, KB, priority=INTERACTIVE, max_rate_wait=1.5)
    assert await ft.run(sender.send(interactive, Script(ft, "interactive"))) == "interactive"
    started = ft.now
    with pytest.raises(RateWaitExceededError):
        await sender.send(Call(OP, KB, priority=BULK, max_rate_wait=1.5), Script(ft, "late"))
    assert ft.now == started  # refused at once, not after waiting
    assert await ft.run(asyncio.gather(*bulk)) == ["bulk"] * 3


async def test_a_bulk_request_counts_the_interactive_line_ahead_too() -> None:
    """At 1 send/s with three interactive requests waiting, a bulk request waits behind all
    of them: max_rate_wait=1.5 refuses it at once."""
    ft = FakeTime()
    sender = paced_sender(ft, 1.0)
    await send(ft, sender, Script(ft, "first"))  # spends the bucket's token
    waiting = [
        asyncio.ensure_future(sender.send(Call(OP, KB), Script(ft, "interactive")))
        for _ in range(3)
    ]
    await ft.advance(0.0)
    script, started = Script(ft, "bulk"), ft.now
    with pytest.raises(RateWaitExceededError):
        await sender.send(Call(OP, KB, priority=BULK, max_rate_wait=1.5), script)
    assert ft.now == started  # refused at once, not after waiting
    assert script.calls == 0
    assert await ft.run(asyncio.gather(*waiting)) == ["interactive"] * 3


async def test_a_max_rate_wait_of_zero_sends_when_nothing_is_to_be_waited() -> None:
    """max_rate_wait=0 means "only if no wait is expected": with the bucket's token there, the
    request is sent; with it spent, refused at once."""
    ft = FakeTime()
    sender = paced_sender(ft, 1.0)
    assert await send(ft, sender, Script(ft, "page"), max_rate_wait=0.0) == "page"
    with pytest.raises(RateWaitExceededError):
        await send(ft, sender, Script(ft, "late"), max_rate_wait=0.0)


async def test_bulk_requests_waiting_for_a_slot_are_sent_in_the_order_they_came() -> None:
    """With one slot, bulk requests queued behind each other go first come, first served."""
    ft = FakeTime()
    sender = paced_sender(ft, 1.0, max_concurrency=1)
    await send(ft, sender, Script(ft, "first"))  # spends the bucket's token
    scripts = [Script(ft, f"bulk{i}") for i in range(3)]
    tasks = []
    for script in scripts:
        tasks.append(asyncio.ensure_future(sender.send(Call(OP, KB, priority=BULK), script)))
        await ft.advance(0.0)
    assert await ft.run(asyncio.gather(*tasks)) == ["bulk0", "bulk1", "bulk2"]
    starts = [script.times[0] for script in scripts]
    assert starts == sorted(starts) and len(set(starts)) == 3


async def test_a_bulk_request_that_gave_way_goes_back_to_the_head_of_the_bulk_line() -> None:
    """A bulk request that gave its slot to an interactive one is sent next after it, before
    the bulk request that came later: giving way costs it one turn, not its place."""
    ft = FakeTime()
    sender = paced_sender(ft, 1.0, max_concurrency=1)
    await send(ft, sender, Script(ft, "first"))  # spends the bucket's token
    early, late, interactive = Script(ft, "early"), Script(ft, "late"), Script(ft, "now")
    bulk_early = asyncio.ensure_future(sender.send(Call(OP, KB, priority=BULK), early))
    await ft.advance(0.0)  # holds the only slot, waiting for the limiter
    bulk_late = asyncio.ensure_future(sender.send(Call(OP, KB, priority=BULK), late))
    await ft.advance(0.0)  # waits for a slot
    asked = asyncio.ensure_future(sender.send(Call(OP, KB, priority=INTERACTIVE), interactive))
    assert await ft.run(asyncio.gather(asked, bulk_early, bulk_late)) == ["now", "early", "late"]
    assert interactive.times[0] < early.times[0] < late.times[0]


async def test_a_sender_closed_by_a_failing_attempt_sends_no_retry_and_says_why() -> None:
    """A retryable failure of an attempt during which the sender was closed is not retried:
    the request ends in RuntimeError("this QConnectClient is closed")."""
    ft = FakeTime()
    sender = make_sender(ft)
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        sender.close()
        raise unavailable()

    request = asyncio.ensure_future(sender.send(Call(OP, KB), attempt))  # a task of its own
    with pytest.raises(RuntimeError) as info:
        await request
    assert str(info.value) == "this QConnectClient is closed"
    assert calls == 1


async def test_each_attempt_is_logged_at_debug_with_its_operation_number_and_kb(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """qconnect_async.requests has one DEBUG line per attempt as it starts."""
    ft = FakeTime()
    sender = make_sender(ft)
    with caplog.at_level(logging.DEBUG, logger="qconnect_async.requests"):
        await send(ft, sender, Script(ft, unavailable(), "page"))
    lines = [r.getMessage() for r in caplog.records if r.name == "qconnect_async.requests"]
    assert lines == [
        f"{OP} attempt 1 (knowledge_base_id={KB})",
        f"{OP} attempt 2 (knowledge_base_id={KB})",
    ]

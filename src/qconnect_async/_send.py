"""Sender: one request, sent with the client's concurrency limit, rate limiter and retries.

Per attempt: take a concurrency slot, wait for the rate limiter, make the call, tell the
limiter how it went, give the slot back. Between attempts (backoff) no slot is held. The
whole request (waits included) stays within the call's deadline when it has one.

Interactive requests go first at the slots and at the limiter (``_line``: bulk keeps one turn
in five while both wait). When every slot is taken, an interactive request asks a bulk request
that holds a slot but is still waiting for the limiter (nothing sent) to give it way: the bulk
one goes back to the head of the bulk line, so the interactive one waits for the send rate
alone, not for a bulk send to end. A request with ``max_rate_wait`` refuses to queue when the line
ahead of it at the send rate would hold it longer (RateWaitExceededError, nothing sent, with
``retry_after`` the expected wait), and gives up with the same error once it has waited that
long (a limiter whose rate is not known ahead, or a line that moved slower than expected).

``close()`` ends every request in flight at once: each task inside ``send`` is cancelled and
raises RuntimeError("... closed"); nothing is retried or sent after it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._call import INTERACTIVE, Call
from ._checks import at_least_one
from ._config import is_testing
from ._errors import DeadlineExceededError, QConnectError, RateWaitExceededError
from ._line import PrioritySlots
from ._ratelimit import RateLimiter, SendOutcome
from ._retry import (
    RetryDetails,
    RetryPolicy,
    RetryQuota,
    is_throttle,
)
from ._telemetry import call_span, retried

__all__ = ["CLOSED_MESSAGE", "Sender"]

CLOSED_MESSAGE = "this QConnectClient is closed"

#: A bulk request gave its slot to an interactive one before the limiter let it go.
_GAVE_WAY: Any = object()

T = TypeVar("T")

logger = logging.getLogger("qconnect_async")
#: One DEBUG line per attempt as it starts: a child logger, so it can be kept or dropped alone.
request_logger = logging.getLogger("qconnect_async.requests")


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class Sender:
    """Sends requests for one client; shared by all its listings."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        limiter: RateLimiter[Any],
        max_concurrency: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        at_least_one("max_concurrency", max_concurrency)
        self._policy = policy
        self._limiter = limiter
        self._slots = PrioritySlots(max_concurrency)
        self._ranked = _takes_priority(limiter)
        # Typed loosely: the protocol's acquire() has no ``priority``; checked above.
        self._acquire: Callable[..., Awaitable[Any]] = limiter.acquire
        # Requests waiting for a slot or the send rate, by priority (for max_rate_wait).
        self._queued = [0, 0]
        # Bulk requests holding a slot while they wait for the limiter: each one's signal to
        # give its slot to an interactive request (see _line_up).
        self._giving_way: list[asyncio.Future[None]] = []
        # One clock for all timing: the loop's (tests move it: tests/_fake_time.py). ``sleep``
        # is the backoff wait only, a seam for tests that record the waits.
        self._clock = _loop_time
        self._sleep = sleep
        # The tasks inside send() now, and those close() cancelled: see close().
        self._sending: set[asyncio.Task[object]] = set()
        self._cut_by_close: set[asyncio.Task[object]] = set()
        self._closed = False
        self._rand = rand
        self._in_flight = 0
        self._quota = RetryQuota(policy.retry_quota)

    @property
    def in_flight(self) -> int:
        """Attempts being sent right now, all callers together."""
        return self._in_flight

    @property
    def quota(self) -> RetryQuota:
        """The client's retry quota."""
        return self._quota

    @property
    def limiter(self) -> RateLimiter[Any]:
        """The client's send-rate limiter."""
        return self._limiter

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Refuse new requests and end every request in flight now (RuntimeError in each)."""
        self._closed = True
        for task in self._sending:
            if task not in self._cut_by_close:
                self._cut_by_close.add(task)
                task.cancel(CLOSED_MESSAGE)

    async def send(self, call: Call, attempt: Callable[[], Awaitable[T]]) -> T:
        """Call ``attempt`` until it succeeds or the policy says stop; raise its last error.

        ``call.deadline`` is an absolute time on this sender's clock (the loop's). The error
        raised is the attempt's own object, untouched; RuntimeError once the sender is closed.
        One logical call: one OpenTelemetry span over every attempt (see ``_telemetry``).
        """
        if self._closed:
            raise RuntimeError(CLOSED_MESSAGE)
        task = asyncio.current_task()
        assert task is not None
        self._sending.add(task)
        try:
            with call_span(call, is_throttle):
                return await self._send(call, attempt)
        except asyncio.CancelledError:
            if task not in self._cut_by_close or task.uncancel() > 0:
                raise  # someone else's cancellation too: it stays one
            raise RuntimeError(CLOSED_MESSAGE) from None
        finally:
            self._sending.discard(task)
            self._cut_by_close.discard(task)

    async def _send(self, call: Call, attempt: Callable[[], Awaitable[T]]) -> T:
        policy, deadline = self._policy, call.deadline
        started = self._clock()
        drawn = 0  # what this request's last retry took from the quota
        number = 0
        while True:
            number += 1
            request_logger.debug(
                "%s attempt %d (knowledge_base_id=%s)",
                call.operation,
                number,
                call.knowledge_base_id,
            )
            try:
                result = await self._attempt(call, attempt)
            except RateWaitExceededError:
                raise  # nothing was sent, and the caller would rather not wait
            except QConnectError as error:
                if self._closed:
                    # The session went away under the attempt: that is the close, not a blip.
                    raise RuntimeError(CLOSED_MESSAGE) from error
                if not policy.is_retryable(error) or number >= policy.attempts_for(error):
                    raise
                wait = self._wait(number, error)
                if deadline is not None and self._clock() + wait >= deadline:
                    raise  # the next attempt could not start in time
                cost = RetryQuota.cost_of(error)
                if not self._quota.acquire(cost):
                    raise  # the client's retry budget is spent: an outage, not a blip
                drawn = cost or drawn
                self._report(
                    RetryDetails(
                        attempt=number,
                        wait=wait,
                        cause=error,
                        operation=call.operation,
                        knowledge_base_id=call.knowledge_base_id,
                        elapsed=self._clock() - started,
                    )
                )
            else:
                self._quota.release(drawn or RetryQuota.SUCCESS_REFUND)
                if number > 1:
                    logger.debug(
                        "%s recovered after %d attempts (knowledge_base_id=%s)",
                        call.operation,
                        number,
                        call.knowledge_base_id,
                    )
                return result
            # Out of the except block: a cancellation while backing off chains nothing.
            await self._sleep(wait)

    def _wait(self, number: int, error: QConnectError) -> float:
        if is_testing():
            return 0.0
        # A throttle slows the whole client through the shared limiter already; growing its
        # backoff too would leave requests asleep for seconds after the service stopped
        # throttling, so a throttled attempt waits the first backoff only.
        backoff = self._policy.backoff(1 if is_throttle(error) else number, rand=self._rand)
        return max(backoff, error.retry_after or 0.0)

    def _report(self, details: RetryDetails) -> None:
        logger.debug(
            "%s attempt %d failed (%s), retrying in %.3fs (knowledge_base_id=%s)",
            details.operation,
            details.attempt,
            details.cause.code,
            details.wait,
            details.knowledge_base_id,
        )
        retried(details)
        hook = self._policy.on_retry
        if hook is None:
            return
        try:
            hook(details)
        except Exception:
            # A broken hook is the application's bug; it must not fail the request.
            logger.exception("the on_retry hook raised; the retry goes on")

    async def _attempt(self, call: Call, attempt: Callable[[], Awaitable[T]]) -> T:
        deadline = call.deadline
        if deadline is None:
            return await self._paced(call, attempt)
        if deadline <= self._clock():
            raise _deadline_error(call)
        timeout = asyncio.timeout_at(call.deadline)  # None: no deadline
        try:
            async with timeout:
                return await self._paced(call, attempt)
        except TimeoutError:
            if timeout.expired():  # our deadline, not a timeout from inside the attempt
                raise _deadline_error(call) from None
            raise

    async def _paced(self, call: Call, attempt: Callable[[], Awaitable[T]]) -> T:
        # The slot is taken before the limiter's wait, so that sends leave at the paced
        # times instead of bunching up behind a full set of slots.
        permit = await self._queue(call)
        # Exactly one release per acquire, however the attempt ends (cancelled too).
        outcome = SendOutcome.ABANDONED
        self._in_flight += 1
        try:
            result = await attempt()
        except QConnectError as error:
            if is_throttle(error):
                outcome = SendOutcome.THROTTLED
            elif error.http_status is not None:
                outcome = SendOutcome.ACCEPTED  # an answer: the service let it in
            raise
        else:
            outcome = SendOutcome.ACCEPTED
            return result
        finally:
            self._in_flight -= 1
            self._limiter.release(permit, outcome)
            self._slots.release()

    async def _queue(self, call: Call) -> Any:
        """Take a slot and the limiter's permit, within ``call.max_rate_wait``."""
        bound = call.max_rate_wait
        if bound is None:
            return await self._line_up(call.priority)
        expected = self._expected_wait(call.priority)
        if expected > bound:
            raise _rate_wait_error(call, expected)
        timeout = asyncio.timeout(bound)
        try:
            async with timeout:
                return await self._line_up(call.priority)
        except TimeoutError:
            if timeout.expired():
                expected = max(self._expected_wait(call.priority), bound)
                raise _rate_wait_error(call, expected) from None
            raise

    async def _line_up(self, priority: int) -> Any:
        self._queued[priority] += 1
        try:
            front = False
            while True:
                if priority == INTERACTIVE and self._slots.free == 0:
                    self._ask_bulk_to_give_way()
                # A bulk request given its slot as bulk's share turn is not passed over again.
                share = await self._slots.acquire(priority, front=front)
                at_limiter = INTERACTIVE if share else priority
                try:
                    if at_limiter == INTERACTIVE:
                        return await self._permit(INTERACTIVE)
                    permit = await self._permit_unless_asked(at_limiter)
                except BaseException:
                    self._slots.release()
                    raise
                if permit is not _GAVE_WAY:
                    return permit
                self._slots.release()  # to the interactive request that asked for it
                front = True  # and back to the head of the bulk line

        finally:
            self._queued[priority] -= 1

    async def _permit(self, priority: int) -> Any:
        if self._ranked:
            return await self._acquire(priority=priority)
        return await self._acquire()

    def _ask_bulk_to_give_way(self) -> None:
        """Ask the bulk request that joined the limiter's line last to give its slot back."""
        for give_way in reversed(self._giving_way):
            if not give_way.done():
                give_way.set_result(None)
                return

    async def _permit_unless_asked(self, priority: int) -> Any:
        """The limiter's permit for a bulk request, or _GAVE_WAY if an interactive request
        asked for its slot first (its wait for the limiter is then given up)."""
        loop = asyncio.get_running_loop()
        give_way: asyncio.Future[None] = loop.create_future()
        acquire = loop.create_task(self._permit(priority))
        self._giving_way.append(give_way)
        try:
            await asyncio.wait((acquire, give_way), return_when=asyncio.FIRST_COMPLETED)
            if not acquire.done():
                acquire.cancel()
                await _settle(acquire)
        except BaseException:
            acquire.cancel()
            try:
                await _settle(acquire)
            finally:
                self._release_unused(acquire)
            raise
        finally:
            self._giving_way.remove(give_way)
        return _GAVE_WAY if acquire.cancelled() else acquire.result()

    def _release_unused(self, acquire: asyncio.Task[Any]) -> None:
        # A permit given as the wait was given up is handed back unused (nothing was sent).
        if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
            self._limiter.release(acquire.result(), SendOutcome.ABANDONED)

    def _expected_wait(self, priority: int) -> float:
        """Seconds a request of ``priority`` joining now may wait for the send rate.

        The requests ahead of it (waiting for a slot or the limiter; only the interactive
        ones for an interactive request at a limiter that serves them first), asked of the
        limiter's ``expected_wait(sends)`` when it has one, else spread at its ``rate``.
        """
        if is_testing():
            return 0.0
        ahead = self._queued[priority]
        if priority != INTERACTIVE or not self._ranked:
            ahead = sum(self._queued)
        estimate = getattr(self._limiter, "expected_wait", None)
        if callable(estimate):
            return float(estimate(ahead + 1))
        rate = self._limiter.rate
        if not rate > 0 or math.isinf(rate):
            return 0.0  # not pacing: the wait is a slot's, bounded by the timeout alone
        return ahead / rate  # its own token may be there already


async def _settle(task: asyncio.Task[Any]) -> None:
    """Wait until ``task`` (cancelled) has ended, even through cancellations of our own (an
    anyio scope cancels every await again): no task outlives its request. Then re-raise
    the cancellation, if one came."""
    interrupted = False
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            interrupted = True
    if interrupted:
        raise asyncio.CancelledError


def _takes_priority(limiter: RateLimiter[Any]) -> bool:
    """Whether ``limiter.acquire`` declares the optional ``priority`` keyword."""
    try:
        parameters = inspect.signature(limiter.acquire).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "priority" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in parameters
    )


def _rate_wait_error(call: Call, expected: float) -> RateWaitExceededError:
    return RateWaitExceededError(
        f"the send rate would hold this request about {expected:.2f} s, longer than its "
        f"max_rate_wait of {call.max_rate_wait:g} s; it was not sent",
        retry_after=expected,
        **call.error_fields(),
    )


def _deadline_error(call: Call) -> DeadlineExceededError:
    return DeadlineExceededError(
        "the deadline passed before this request completed", **call.error_fields()
    )

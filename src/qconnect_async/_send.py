"""Sender: one request, sent with the client's concurrency limit, rate limiter and retries.

Per attempt: take a concurrency slot, wait for the rate limiter, make the call, tell the
limiter how it went, give the slot back. Between attempts (backoff) no slot is held. The
whole request (waits included) stays within the listing's deadline when it has one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from ._errors import QConnectError, TransportError
from ._ratelimit import RateLimiter, SendOutcome, SendRateLimiter
from ._retry import (
    DEADLINE_EXCEEDED,
    RetryDetails,
    RetryPolicy,
    RetryQuota,
    is_testing,
    is_throttle,
)

__all__ = ["INITIAL_WINDOW", "Sender"]

#: Attempts that may be in flight at once before the first success (TCP's initial window).
INITIAL_WINDOW = 4

T = TypeVar("T")

logger = logging.getLogger("qconnect_async")


class Sender:
    """Sends requests for one client; shared by all its listings."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        limiter: SendRateLimiter | RateLimiter[Any],
        max_concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ValueError(f"max_concurrency must be an int, not {max_concurrency!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self._policy = policy
        self._limiter = limiter
        self._slots = asyncio.Semaphore(max_concurrency)
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._in_flight = 0
        self._quota = RetryQuota(policy.retry_quota)
        # Slow start, as TCP's initial window: until the service first throttles, at most
        # `_window` attempts leave at once, one more for each success. A cold burst of
        # max_concurrency requests would otherwise meet a small service burst all at once.
        # 4 measured best on the throttled benchmark (~6-8% throttled, against 9.8% with 8
        # and 11-12% with none); it costs one round trip, once, to listings wider than 4.
        self._window = INITIAL_WINDOW
        self._opened = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Attempts being sent right now, all callers together."""
        return self._in_flight

    @property
    def quota(self) -> RetryQuota:
        """The client's retry quota."""
        return self._quota

    @property
    def limiter(self) -> SendRateLimiter | RateLimiter[Any]:
        """The client's send-rate limiter."""
        return self._limiter

    async def send(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        operation: str,
        knowledge_base_id: str | None = None,
        deadline: float | None = None,
    ) -> T:
        """Call ``attempt`` until it succeeds or the policy says stop; raise its last error.

        ``deadline`` is an absolute time on this sender's clock. The error raised is the
        attempt's own object, untouched.
        """
        policy = self._policy
        started = self._clock()
        drawn = 0  # what this request's last retry took from the quota
        number = 0
        while True:
            number += 1
            try:
                result = await self._attempt(attempt, operation, knowledge_base_id, deadline)
            except QConnectError as error:
                if not policy.is_retryable(error) or number >= policy.max_attempts:
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
                        operation=operation,
                        knowledge_base_id=knowledge_base_id,
                        elapsed=self._clock() - started,
                    )
                )
            else:
                self._quota.release(drawn or RetryQuota.SUCCESS_REFUND)
                if number > 1:
                    logger.debug(
                        "%s recovered after %d attempts (knowledge_base_id=%s)",
                        operation,
                        number,
                        knowledge_base_id,
                    )
                return result
            # Out of the except block: a cancellation while backing off chains nothing.
            await self._sleep(wait)

    def _wait(self, number: int, error: QConnectError) -> float:
        if is_testing():
            return 0.0
        return max(self._policy.backoff(number, rand=self._rand), error.retry_after or 0.0)

    def _report(self, details: RetryDetails) -> None:
        logger.debug(
            "%s attempt %d failed (%s), retrying in %.3fs (knowledge_base_id=%s)",
            details.operation,
            details.attempt,
            details.cause.code,
            details.wait,
            details.knowledge_base_id,
        )
        hook = self._policy.on_retry
        if hook is None:
            return
        try:
            hook(details)
        except Exception:
            # A broken hook is the application's bug; it must not fail the request.
            logger.exception("the on_retry hook raised; the retry goes on")

    async def _attempt(
        self,
        attempt: Callable[[], Awaitable[T]],
        operation: str,
        knowledge_base_id: str | None,
        deadline: float | None,
    ) -> T:
        if deadline is None:
            return await self._paced(attempt)
        async with _Deadline(deadline, self._clock, self._sleep, operation, knowledge_base_id):
            return await self._paced(attempt)

    async def _paced(self, attempt: Callable[[], Awaitable[T]]) -> T:
        limiter = self._limiter
        if not isinstance(limiter, SendRateLimiter):
            return await self._paced_by(limiter, attempt)
        # The slot is taken before the limiter's wait, so that sends leave at the paced
        # times instead of bunching up behind a full set of slots.
        async with self._slots:
            # While the limiter is off, acquire() returns without suspending, so the window
            # check and the in_flight increment below happen with no other task in between.
            while not limiter.enabled and self._in_flight >= self._window:
                self._opened.clear()
                await self._opened.wait()
            sent_at = await limiter.acquire()
            self._in_flight += 1
            try:
                result = await attempt()
            except QConnectError as error:
                if is_throttle(error):
                    limiter.on_throttle(sent_at)
                elif error.http_status is not None:
                    limiter.on_success(sent_at)  # an answer: the service let it in
                raise
            finally:
                self._in_flight -= 1
                self._opened.set()
            limiter.on_success(sent_at)
            self._window += 1
            return result

    async def _paced_by(self, limiter: RateLimiter[Any], attempt: Callable[[], Awaitable[T]]) -> T:
        # A limiter passed in (rate_limiter=): the protocol alone, slow start is its own.
        # TODO(merge): issue 9 rewrites _paced around the protocol; this is issue 10's bridge.
        async with self._slots:
            permit = await limiter.acquire()
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
                limiter.release(permit, outcome)


class _Deadline:
    """Cancels the body when the sender's clock reaches ``when``; raises DeadlineExceeded.

    asyncio.timeout would do, but it runs on the loop's clock, and the sender's clock and
    sleep are injectable (tests move a fake clock). Same protocol: cancel the task, then
    uncancel it on the way out, telling our cancellation from anyone else's.
    """

    def __init__(
        self,
        when: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        operation: str,
        knowledge_base_id: str | None,
    ) -> None:
        self._when = when
        self._clock = clock
        self._sleep = sleep
        self._operation = operation
        self._knowledge_base_id = knowledge_base_id
        self._expired = False
        self._watcher: asyncio.Task[None] | None = None
        self._task: asyncio.Task[object] | None = None

    def _error(self) -> TransportError:
        return TransportError(
            "the listing's deadline passed before this request completed",
            code=DEADLINE_EXCEEDED,
            operation=self._operation,
            knowledge_base_id=self._knowledge_base_id,
        )

    async def __aenter__(self) -> None:
        remaining = self._when - self._clock()
        if remaining <= 0:
            raise self._error()
        self._task = asyncio.current_task()
        self._watcher = asyncio.get_running_loop().create_task(self._watch(remaining))

    async def _watch(self, remaining: float) -> None:
        await self._sleep(remaining)
        if self._task is not None:
            self._expired = True
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        watcher, self._task = self._watcher, None
        if watcher is not None and not watcher.done():
            watcher.cancel()
            # Leave no task behind; asyncio.wait never raises the watcher's CancelledError.
            await asyncio.wait((watcher,))
        if not self._expired:
            return
        task = asyncio.current_task()
        assert task is not None
        if task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise self._error() from None

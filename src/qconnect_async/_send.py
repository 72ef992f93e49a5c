"""Sender: one request, sent with the client's concurrency limit, rate limiter and retries.

Per attempt: take a concurrency slot, wait for the rate limiter, make the call, tell the
limiter how it went, give the slot back. Between attempts (backoff) no slot is held. The
whole request (waits included) stays within the listing's deadline when it has one.

``close()`` ends every request in flight at once: each task inside ``send`` is cancelled and
raises RuntimeError("... closed"); nothing is retried or sent after it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from ._errors import DeadlineExceededError, QConnectError
from ._ratelimit import SendRateLimiter
from ._retry import (
    RetryDetails,
    RetryPolicy,
    RetryQuota,
    is_testing,
    is_throttle,
)
from ._telemetry import call_span, retried

__all__ = ["CLOSED_MESSAGE", "INITIAL_WINDOW", "Sender"]

CLOSED_MESSAGE = "this QConnectClient is closed"

#: Attempts that may be in flight at once before the first success (TCP's initial window).
INITIAL_WINDOW = 4

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
        limiter: SendRateLimiter,
        max_concurrency: int,
        clock: Callable[[], float] | None = None,
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
        # One clock for all timing: the loop's (asyncio.sleep runs on it too). Injected only
        # by the sender's own unit tests, which drive a fake clock.
        self._clock = clock if clock is not None else _loop_time
        self._sleep = sleep
        # The tasks inside send() now, and those close() cancelled: see close().
        self._sending: set[asyncio.Task[object]] = set()
        self._cut_by_close: set[asyncio.Task[object]] = set()
        self._closed = False
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
    def limiter(self) -> SendRateLimiter:
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

    async def send(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        operation: str,
        knowledge_base_id: str | None = None,
        deadline: float | None = None,
    ) -> T:
        """Call ``attempt`` until it succeeds or the policy says stop; raise its last error.

        ``deadline`` is an absolute time on this sender's clock (the loop's). The error raised
        is the attempt's own object, untouched; RuntimeError once the sender is closed. One
        logical call: one OpenTelemetry span over every attempt (see ``_telemetry``).
        """
        if self._closed:
            raise RuntimeError(CLOSED_MESSAGE)
        task = asyncio.current_task()
        assert task is not None
        self._sending.add(task)
        try:
            with call_span(operation, knowledge_base_id, is_throttle):
                return await self._send(attempt, operation, knowledge_base_id, deadline)
        except asyncio.CancelledError:
            if task not in self._cut_by_close or task.uncancel() > 0:
                raise  # someone else's cancellation too: it stays one
            raise RuntimeError(CLOSED_MESSAGE) from None
        finally:
            self._sending.discard(task)
            self._cut_by_close.discard(task)

    async def _send(
        self,
        attempt: Callable[[], Awaitable[T]],
        operation: str,
        knowledge_base_id: str | None,
        deadline: float | None,
    ) -> T:
        policy = self._policy
        started = self._clock()
        drawn = 0  # what this request's last retry took from the quota
        number = 0
        while True:
            number += 1
            if self._closed:
                raise RuntimeError(CLOSED_MESSAGE)
            request_logger.debug(
                "%s attempt %d (knowledge_base_id=%s)", operation, number, knowledge_base_id
            )
            try:
                result = await self._attempt(attempt, operation, knowledge_base_id, deadline)
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
        retried(details)
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
        # The slot is taken before the limiter's wait, so that sends leave at the paced
        # times instead of bunching up behind a full set of slots.
        async with self._slots:
            # While the limiter is off, acquire() returns without suspending, so the window
            # check and the in_flight increment below happen with no other task in between.
            while not self._limiter.enabled and self._in_flight >= self._window:
                self._opened.clear()
                await self._opened.wait()
            sent_at = await self._limiter.acquire()
            self._in_flight += 1
            try:
                result = await attempt()
            except QConnectError as error:
                if is_throttle(error):
                    self._limiter.on_throttle(sent_at)
                elif error.http_status is not None:
                    self._limiter.on_success(sent_at)  # an answer: the service let it in
                raise
            finally:
                self._in_flight -= 1
                self._opened.set()
            self._limiter.on_success(sent_at)
            self._window += 1
            return result


class _Deadline:
    """Cancels the body when the sender's clock reaches ``when``; raises DeadlineExceeded.

    asyncio.timeout_at would do with the default clock (the loop's), but the sender's unit
    tests inject a fake clock and sleep. Same protocol: cancel the task, then
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
        # One clock for all timing: the loop's (asyncio.sleep runs on it too). Injected only
        # by the sender's own unit tests, which drive a fake clock.
        self._clock = clock if clock is not None else _loop_time
        self._sleep = sleep
        # The tasks inside send() now, and those close() cancelled: see close().
        self._sending: set[asyncio.Task[object]] = set()
        self._cut_by_close: set[asyncio.Task[object]] = set()
        self._closed = False
        self._operation = operation
        self._knowledge_base_id = knowledge_base_id
        self._expired = False
        self._watcher: asyncio.Task[None] | None = None
        self._task: asyncio.Task[object] | None = None

    def _error(self) -> DeadlineExceededError:
        return DeadlineExceededError(
            "the listing's deadline passed before this request completed",
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

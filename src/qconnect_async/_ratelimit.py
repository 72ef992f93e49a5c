"""The send rate: the RateLimiter protocol a client paces its sends with, and its default.

``AdaptiveRateLimiter`` is a thin asyncio shell around the pure ``RateController``
(``_ratecontrol``, where the rate decisions and their reasons live):

- Off until the service first throttles, but for slow start: sends leave in rounds, the
  first of ``initial_window`` sends, each next one as large as the last plus half its
  accepted answers (rounded up: 1, 2, 3, 5, 8, 12, ...), and a round's sends leave only once
  every send of the previous round is answered. So a cold burst of max_concurrency requests
  does not meet a small service burst all at once, and no send leaves while a throttle is on
  its way back: against a burst B the throttles are the last round's overshoot (1 + 2 + 3 =
  6 sends for B = 5: 1, the floor: a throttle is the only sign the burst is spent). At worst
  a whole round: about half of a large B (B = 31: 18), where rounds that double throw B + 1
  (B = 7: 8); the price is two more round trips before 16 are in the air. An overshoot of
  one or two among many answers is not a cut (the controller takes it for a stray throttle),
  so the next round is one send: a spent burst throttles it too, which counts towards the
  cut, where the next whole round was thrown (B = 10: 2 throttles, not 8). Over bursts of 1
  to 40, 7.0 throttles on average, at most 18 (doubling: 14.1 and 32).
  The rounds end once one may send 32, after 76 sends (1 + 2 + ... + 27; rounds that doubled
  ended after 63): a burst that large is met unpaced, and a client with fewer slots than a
  round stops waiting for each round's last answers.
- Once a throttle turned the controller on, each send takes a token from a bucket (``burst``
  tokens at most) refilled at ``controller.rate(now)``. A cut empties the bucket: the
  service's next tokens are owed to the requests still on their way to it.
- After a quiet period the controller turns off again and sends go unpaced.
- ``qconnect_async.testing.set_testing()`` turns every pacing wait (and the window) off.

Waiters are served interactive first (``acquire(priority=...)``, the rule of ``_line``: bulk
gets at least one turn in five while both wait), first come, first served within a priority;
a cancelled waiter takes no token and passes its turn on. One event loop, no locks; time is
the loop's clock.

Priority crosses the protocol as an optional keyword: a client passes ``priority=`` to an
``acquire`` that declares it (this limiter and the Redis one do), and calls a plain
``acquire()`` otherwise, so a third-party limiter without it keeps working (first come,
first served there; the client's slots still put interactive requests first).
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from typing import Protocol, TypeVar, runtime_checkable

from ._call import INTERACTIVE
from ._checks import at_least_one, seconds
from ._config import is_testing
from ._errors import ValidationError
from ._line import PriorityLine
from ._ratecontrol import RateController

__all__ = ["INITIAL_WINDOW", "AdaptiveRateLimiter", "RateLimiter", "SendOutcome"]

P = TypeVar("P")

#: Sends of the slow start's first round (TCP's initial window): one, since a fleet starting
#: together sends its members' windows at once, against a service burst nobody publishes.
INITIAL_WINDOW = 1


class SendOutcome(enum.Enum):
    """How a send ended, as a client tells its rate limiter."""

    #: an HTTP answer that is not a throttle: the service let the request in
    ACCEPTED = "accepted"
    #: the service said "too many requests"
    THROTTLED = "throttled"
    #: no answer: cancelled, timed out, connection failed, client closed
    ABANDONED = "abandoned"


@runtime_checkable
class RateLimiter(Protocol[P]):
    """What a client asks before each send and tells after it.

    ``acquire()`` waits until a request may be sent and returns a permit; the client hands
    that permit back to ``release()`` exactly once, with the outcome, however the send ended.
    ``release`` is synchronous and must not block: it runs in ``finally`` blocks, also while
    a task is being cancelled. One object may be shared by several clients of one event loop.
    A limiter may also take an optional keyword ``priority`` (``acquire(*, priority=0)``,
    0 interactive, 1 bulk) to serve waiting interactive requests first; clients pass it only
    to an ``acquire`` that declares it. And an optional ``expected_wait(sends) -> float``
    (seconds until that many more sends may leave) sharpens ``max_rate_wait``'s forecast;
    without it a client spreads the requests ahead over ``rate``.
    """

    async def acquire(self) -> P:
        """Wait for a send slot; return the permit to give back to ``release``."""
        ...

    def release(self, permit: P, outcome: SendOutcome) -> None:
        """The send made with ``permit`` ended with ``outcome``."""
        ...

    @property
    def rate(self) -> float:
        """Sends per second allowed now (``math.inf`` while not pacing); for metrics."""
        ...


#: The slow start ends (no round limits sends any more) once a round may send this many.
_SLOW_START_END = 32
#: Each slow-start round is the last one plus this share of its accepted answers (rounded
#: up): a round thrown whole at a spent burst is about this share of a large burst.
_SLOW_START_GROWTH = 0.5
# The head of the line looks at the bucket at least this often (seconds) while it waits.
_RECHECK = 0.05
# Float slack on token counts, so that a head waiter never sleeps for a zero interval.
_EPS = 1e-9


class _Waiter:
    """A place in the line; ``wake`` is set when it should look at the bucket again."""

    __slots__ = ("wake",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.wake: asyncio.Future[None] = loop.create_future()


class AdaptiveRateLimiter:
    """The default RateLimiter: CUBIC-like pacing once throttled, off again when quiet.

    ``initial_window``: sends of the slow start's first round (each next round is the last
    one plus half its accepted answers, while the controller is off). ``burst``: sends that
    may leave back to back while paced. ``controller``: the rate decisions (a fresh
    ``RateController()`` by default; pass one to tune its constants). The permit is the
    send time on the loop's clock. One object may be shared by several clients of a loop.
    """

    def __init__(
        self,
        *,
        initial_window: int = INITIAL_WINDOW,
        burst: float = 1.0,
        controller: RateController | None = None,
    ) -> None:
        at_least_one("initial_window", initial_window)
        if seconds("burst", burst, unit="sends") < 1:
            raise ValidationError(f"burst must be at least 1 (one send), not {burst!r}")
        self._controller = controller if controller is not None else RateController()
        self._burst = burst
        self._window: float = initial_window
        self._round_sent = 0  # sends of the slow start's current round
        self._round_accepted = 0  # of those, answered and not throttled
        self._round_throttled = False  # one of those throttled, taken for a stray throttle
        self._probe = False  # the current round is one send after such a throttle
        self._in_flight = 0
        self._tokens = burst
        self._refilled_at = -math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: PriorityLine[_Waiter] = PriorityLine()

    @property
    def controller(self) -> RateController:
        """The pure rate decisions this limiter follows."""
        return self._controller

    @property
    def enabled(self) -> bool:
        """Whether sends are paced (from a throttle until a quiet period)."""
        return self._controller.enabled

    @property
    def rate(self) -> float:
        """Sends per second allowed now; infinite while not pacing."""
        return self._controller.rate(self._now())

    @property
    def in_flight(self) -> int:
        """Sends acquired and not released yet."""
        return self._in_flight

    async def acquire(self, *, priority: int = INTERACTIVE) -> float:
        """Wait for a send slot; return the send time, the permit ``release`` takes back.

        ``priority``: 0 interactive (the default), 1 bulk; interactive waiters go first.
        """
        loop = self._loop = asyncio.get_running_loop()
        if not self._waiters and self._wait_time(loop.time()) <= 0:
            return self._take(loop.time())
        waiter = _Waiter(loop)
        self._waiters.append(priority, waiter)
        served = False
        try:
            while True:
                if self._head() is waiter:
                    wait = self._wait_time(loop.time())
                    if wait <= 0:
                        served = True
                        return self._take(loop.time())
                    waiter.wake = loop.create_future()
                    if wait < math.inf:  # else: the window is full, a release wakes us
                        # Look again soon: the rate may grow a lot meanwhile (a recovery).
                        wait = min(wait, _RECHECK)
                        loop.call_at(loop.time() + wait, _set, waiter.wake)
                elif waiter.wake.done():
                    # An interactive waiter came in ahead of this one: sleep until woken.
                    waiter.wake = loop.create_future()
                await waiter.wake  # set when this waiter reaches the head, or may go
        finally:
            self._leave(priority, waiter, served=served)

    def release(self, permit: float, outcome: SendOutcome) -> None:
        """The send made at ``permit`` ended with ``outcome``; never blocks."""
        now = self._now()
        self._in_flight -= 1
        control = self._controller
        if outcome is SendOutcome.ACCEPTED:
            control.on_accepted(now, permit)
            if not control.enabled:
                self._round_accepted += 1
        elif outcome is SendOutcome.THROTTLED:
            if control.on_throttle(now, permit):
                # The service's bucket is empty: its next tokens are owed to the requests
                # still on their way, so the first send after the cut waits a whole token.
                self._tokens, self._refilled_at = 0.0, now
            elif not control.enabled:
                self._round_throttled = True
        self._wake_head()

    def expected_wait(self, sends: int) -> float:
        """Seconds until ``sends`` more sends may have left at today's rate (0: not pacing).

        Optional for a RateLimiter: a client asks it when a call gives ``max_rate_wait``.
        """
        now = self._now()
        control = self._controller
        if is_testing() or not control.enabled:
            return 0.0  # unpaced, or a slow-start round whose answers decide: not known ahead
        rate = control.rate(now)
        tokens = min(self._burst, self._tokens + max(0.0, now - self._refilled_at) * rate)
        return max(0.0, sends - tokens) / rate

    # -- the token bucket and the line of waiters -------------------------------------------

    def _now(self) -> float:
        loop = self._loop
        return loop.time() if loop is not None else time.monotonic()

    def _wait_time(self, now: float) -> float:
        """Seconds until the next send may leave (0: now; inf: when a send ends)."""
        if is_testing():
            return 0.0
        control = self._controller
        control.on_quiet(now)
        if not control.enabled:
            return self._slow_start_wait()
        rate = control.rate(now)
        elapsed = now - self._refilled_at
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * rate)
            self._refilled_at = now
        if self._tokens >= 1 - _EPS:
            return 0.0
        return max(_EPS, (1 - self._tokens) / rate)

    def _slow_start_wait(self) -> float:
        """0: a send of the current round may leave; inf: wait for its answers."""
        if self._round_sent < (1 if self._probe else self._window):
            return 0.0
        if self._in_flight > 0:
            return math.inf  # the round is full: its throttles, if any, must come back first
        # Every send of the round is answered. A throttle the controller took for a stray one
        # (few among many answers) may also be a spent burst, whose next round would all be
        # throttled: the next round is one send, and only its answer lets the rounds go on
        # (a throttle again counts towards the cut). Else one more send per two accepted.
        if self._round_throttled:
            self._probe = True
        elif self._probe:
            self._probe = False
        else:
            self._window += math.ceil(self._round_accepted * _SLOW_START_GROWTH)
        self._round_sent = self._round_accepted = 0
        self._round_throttled = False
        if self._window >= _SLOW_START_END:
            self._window = math.inf
        return 0.0

    def _take(self, now: float) -> float:
        if self._controller.enabled:
            if not is_testing():
                self._tokens = max(0.0, self._tokens - 1)
        else:
            self._round_sent += 1
        self._in_flight += 1
        return now

    def _head(self) -> _Waiter | None:
        turn = self._waiters.first()
        return None if turn is None else turn[1]

    def _wake_head(self) -> None:
        head = self._head()
        if head is not None:
            _set(head.wake)

    def _leave(self, priority: int, waiter: _Waiter, *, served: bool) -> None:
        # Invariant: only the head of the line looks at the bucket; whoever leaves the head
        # (served or cancelled) wakes the next waiter, so no wake-up is lost.
        was_head = self._head() is waiter
        self._waiters.remove(priority, waiter, served=served)
        if was_head:
            self._wake_head()


def _set(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)

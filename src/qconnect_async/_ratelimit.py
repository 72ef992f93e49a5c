"""SendRateLimiter: the one send-rate limiter every request of a client goes through.

Off until the service first throttles: no cost for a client that is never throttled. From
then on each send takes a token from a small bucket refilled at ``rate``, and ``rate`` moves:

- A throttle starts a *congestion event* and cuts the rate once. Throttles answering
  requests sent before that cut, or within a round trip after it (they met the requests
  still on their way), belong to the same event and cut nothing more. Those requests on
  their way are owed the service's next tokens: the first send after a cut waits for them.
- The cut is set from the rate the service accepted (``_measure``): the slowest token
  bucket that could have let through every request it did since it was last found empty.
  The rate drops a little below that (``backoff``), climbs back to it over
  ``recovery_time`` seconds, stays there a while, then probes beyond it ever faster, as
  TCP CUBIC does. A throttle too soon after the last one to measure cuts from the rate
  that failed.
- With nothing to measure (the first throttle, typically many requests sent at once), the
  rate starts from what was sent in the last ``window`` and doubles every
  ``startup_doubling`` seconds until the next throttle, which measures: that cold burst
  told the service's burst, which the measure needs. botocore's adaptive mode cuts to 70%
  of a smoothed send rate still near 0 on a cold start, then crawls up from 0.5/s.
- Growth must be earned: the rate never grows past a few times what the service accepted
  lately, and never falls below ``min_rate``. Once on, the limiter stays on.

Waiters are served first come, first served; a cancelled waiter takes no token and passes
its turn on. One event loop, no locks.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["RateLimiter", "SendOutcome", "SendRateLimiter"]

P = TypeVar("P")


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


# Fewer accepted requests than this measure nothing.
_MIN_SAMPLES = 4
# A slow service is probed in requests, not seconds: the startup doubles the rate at most
# every this many sends, and a recovery lasts at least as long as this many sends.
_DOUBLING_SENDS = 4
_RECOVERY_SENDS = 20
# Send times only approximate when the service saw a request: a bucket may look this many
# requests short before it counts as run dry.
_SLACK = 0.5
# Float slack on token counts, so that a head waiter never sleeps for a zero interval.
_EPS = 1e-9


class SendRateLimiter:
    """Paces the sends of one client once the service has throttled it.

    ``clock`` and ``sleep`` are injectable (tests move a fake clock). ``burst``: sends that
    may leave back to back; ``window``: seconds of history behind the send rate a startup
    begins from (rates are measured over ten of them); ``backoff``: the share of the
    measured rate a cut goes down to.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        min_rate: float = 0.5,
        burst: float = 1.0,
        window: float = 1.0,
        backoff: float = 0.9,
        recovery_time: float = 1.0,
        startup_doubling: float = 0.25,
    ) -> None:
        for name, value in (
            ("min_rate", min_rate),
            ("window", window),
            ("recovery_time", recovery_time),
            ("startup_doubling", startup_doubling),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive and finite, not {value!r}")
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be at least 1 (one send), not {burst!r}")
        if not 0 < backoff < 1:
            raise ValueError(f"backoff must be between 0 and 1, not {backoff!r}")
        self._clock = clock
        self._sleep = sleep
        self._min_rate = min_rate
        self._burst = burst
        self._window = window
        self._min_span = window / 4
        self._history = 10 * window
        self._beta = backoff
        self._recovery = recovery_time
        self._doubling = startup_doubling

        self._enabled = False
        # Send times of every send over `window`; of the accepted requests over `_history`.
        self._sent: deque[float] = deque()
        self._accepted: deque[float] = deque()
        self._accepted_since_cut = 0
        # What tells the service's burst (see _service_burst): the requests sent blind,
        # before the first answer of all came, and how many of them were throttled; failing
        # that, what it accepted up to the first congestion.
        self._first_answer = math.inf
        self._blind_sent = 0
        self._blind_throttled = 0
        self._burst_horizon = -math.inf
        self._accepted_by_horizon = 0
        # The congestion events: when the last cut was made, when the last throttle of the
        # event was answered (the service's bucket was empty just before) and the same for
        # the event before. Answer times, not send times: a throttle is answered at once,
        # while a send may wait long before it reaches the service (a new connection).
        self._cut_at = -math.inf
        self._event_until = -math.inf
        self._event_end = -math.inf
        self._previous_end = -math.inf
        # The curve the rate follows since the cut.
        self._target: float | None = None  # the measured rate; None: starting up
        self._start_rate = 0.0  # the rate right after the cut
        self._cubic = 0.0  # coefficient: the curve meets _target after _period
        self._period = 1.0  # seconds: of a doubling while starting up, of a recovery after
        self._ceiling = math.inf  # the rate allowed when the service throttled
        # The token bucket the sends draw from while enabled, and the line of waiters.
        self._tokens = 0.0
        self._refilled_at = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def enabled(self) -> bool:
        """Whether sends are paced (true once the service has throttled this client)."""
        return self._enabled

    @property
    def rate(self) -> float:
        """Sends per second allowed now; infinite while disabled."""
        return self._rate_at(self._clock()) if self._enabled else math.inf

    async def acquire(self) -> float:
        """Wait for a send slot; return the send time to give back to on_success/on_throttle."""
        if not self._enabled or (not self._waiters and self._take()):
            return self._sent_now()
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            if self._waiters[0] is not fut:
                await fut  # set when this waiter reaches the head of the line
            while not self._take():
                await self._sleep(self._time_to_token())
        finally:
            self._leave(fut)
        return self._sent_now()

    def on_success(self, sent_at: float) -> None:
        """The request sent at ``sent_at`` got an answer that is not a throttle."""
        now = self._clock()
        self._answered(now)
        self._accepted.append(sent_at)
        self._prune(self._accepted, now, self._history)
        if sent_at <= self._burst_horizon:
            self._accepted_by_horizon += 1  # a late answer from the first congestion
        if sent_at > self._cut_at:
            self._accepted_since_cut += 1
        elif sent_at <= self._event_end:
            self._refine()  # a late answer from before the throttle: a better measure

    def on_throttle(self, sent_at: float) -> None:
        """The request sent at ``sent_at`` was throttled: cut, once per congestion event."""
        now = self._clock()
        self._answered(now)
        if sent_at < self._first_answer:
            self._blind_throttled += 1
        if sent_at <= self._event_until:
            # Sent before the last cut, or so soon after it that the requests still on
            # their way then met it at the service: that cut already answered this.
            self._event_until = max(self._event_until, self._cut_at + now - sent_at)
            if self._previous_end == -math.inf:
                self._note_first_congestion(sent_at)
            # Its answer says the service's bucket was empty again just now.
            self._event_end = now
            self._refine()
            return
        # Throttled at the rate we allowed: the service's rate is below it.
        self._ceiling = self._rate_at(now) if self._enabled else math.inf
        # The service's bucket is empty, and what it earns next goes to the requests still
        # on their way to it (those sent in the last half round trip): they are owed first.
        on_the_way = sum(1 for t in self._sent if t > (sent_at + now) / 2)
        self._enabled = True
        self._tokens, self._refilled_at = -float(on_the_way), now
        self._previous_end, self._event_end = self._event_end, now
        if self._previous_end == -math.inf:
            self._note_first_congestion(sent_at)
        self._cut_at = now
        self._event_until = now + now - sent_at  # a round trip past the cut
        self._accepted_since_cut = 0
        measured = self._measure()
        if measured is not None:
            self._set_target(min(measured, self._ceiling))
        elif self._ceiling < math.inf:
            # Too little seen since the last cut to measure: cut the rate that failed as
            # TCP CUBIC does (by 30%), or halve it in a startup, which doubles.
            self._set_target(self._ceiling * (0.7 if self._target is not None else 0.5))
        else:
            # A first throttle, with no history: start up from what was sent lately.
            self._target = None
            self._start_rate = max(self._min_rate, self._send_rate(now))
            self._period = max(self._doubling, _DOUBLING_SENDS / self._start_rate)

    def _answered(self, now: float) -> None:
        if self._first_answer == math.inf:
            self._first_answer = now
            self._blind_sent = len(self._sent)  # every send so far went out blind

    def _note_first_congestion(self, sent_at: float) -> None:
        if sent_at > self._burst_horizon:
            self._burst_horizon = sent_at
            self._accepted_by_horizon = sum(1 for t in self._accepted if t <= sent_at)

    def _service_burst(self) -> float:
        """The service's burst, or a little more: never less, which would inflate a measure.

        Its bucket started full and the first congestion emptied it, so what it accepted by
        then is its burst plus what it earned meanwhile. Best told by requests sent blind,
        some of them throttled: all but those are counted, answered or not (so a slow answer
        cannot shrink the count). Failing that, what it accepted of the requests sent up to
        the last throttled one of the first congestion.
        """
        if self._blind_throttled:
            return float(self._blind_sent - self._blind_throttled)
        return float(self._accepted_by_horizon)

    # -- the rate -------------------------------------------------------------------------------

    def _rate_at(self, now: float) -> float:
        since = max(0.0, now - self._cut_at)
        accepted = self._accepted_rate(now, since)
        if self._target is None:
            # Starting up: no measured rate yet, double until the service says stop.
            rate = self._start_rate * math.pow(2.0, min(since / self._period, 64.0))
            cap = 4.0 * max(self._start_rate, accepted)
        else:
            rate = self._target + self._cubic * (since - self._period) ** 3
            cap = max(self._target, 2.0 * accepted)
        return max(self._min_rate, min(rate, cap))

    def _set_target(self, measured: float) -> None:
        self._target = max(self._min_rate, measured)
        self._start_rate = max(self._min_rate, self._beta * self._target)
        self._period = max(self._recovery, _RECOVERY_SENDS / self._target)
        self._cubic = (self._target - self._start_rate) / self._period**3

    def _refine(self) -> None:
        # More answers from before the throttle came in: measure again, keep the larger
        # lower bound (both are lower bounds, the later one saw more).
        measured = self._measure()
        if measured is not None and self._target is not None and measured > self._target:
            self._set_target(min(measured, self._ceiling))

    def _measure(self) -> float | None:
        """The service's rate as its answers tell it; None without enough of them.

        The slowest token bucket (burst ``_service_burst()``) that could have accepted every
        request it accepted since it was last found empty (the previous congestion event;
        full, at the start of the history, if there was none): below that rate its bucket
        would have run dry before some request it let through. With the burst right this
        is the service's rate, a little under it given the slack for timing noise; tokens
        it earned while we sent too little are no error, the full bucket loses them.
        Requests still in flight count once answered, when they refine the measure.
        """
        end = self._event_end
        if self._previous_end >= end - self._history:
            start, level = self._previous_end, 0.0
        else:
            start, level = end - self._history, math.inf  # full, whatever its size
        accepted = sorted(t for t in self._accepted if start < t <= end)
        if len(accepted) < _MIN_SAMPLES:
            return None
        if end - (start if level == 0 else accepted[0]) < self._min_span:
            return None
        capacity = max(1.0, self._service_burst())

        def runs_dry(rate: float) -> bool:
            tokens, at = min(level, capacity), start
            for t in accepted:
                tokens = min(capacity, tokens + (t - at) * rate) - 1
                at = t
                if tokens < -_SLACK:
                    return True
            return False

        # Bisect (geometrically, to 1%) between a rate that runs dry and one that does not,
        # one that refills a whole request between any two sends. Nothing can be said if
        # the floor does not run dry (the burst alone explains it all) or if that one does
        # (the burst estimate is wrong).
        gap = max(_EPS, _min_gap([start, *accepted]))
        low, high = self._min_rate, (1 + len(accepted)) / gap
        if not runs_dry(low) or runs_dry(high):
            return None
        while high > 1.01 * low:
            middle = math.sqrt(low * high)
            low, high = (middle, high) if runs_dry(middle) else (low, middle)
        return high

    def _accepted_rate(self, now: float, since: float) -> float:
        if since >= self._history:
            self._prune(self._accepted, now, self._history)
            return len(self._accepted) / self._history
        return self._accepted_since_cut / since if since > 0 else 0.0

    def _send_rate(self, now: float) -> float:
        self._prune(self._sent, now, self._window)
        return len(self._sent) / self._window

    @staticmethod
    def _prune(times: deque[float], now: float, keep: float) -> None:
        horizon = now - keep
        while times and times[0] < horizon:
            times.popleft()

    # -- the token bucket and the line of waiters -----------------------------------------------

    def _sent_now(self) -> float:
        now = self._clock()
        self._sent.append(now)
        self._prune(self._sent, now, self._window)
        return now

    def _refill(self, now: float) -> None:
        elapsed = now - self._refilled_at
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate_at(now))
            self._refilled_at = now

    def _take(self) -> bool:
        self._refill(self._clock())
        if self._tokens >= 1 - _EPS:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    def _time_to_token(self) -> float:
        return max(_EPS, (1 - self._tokens) / self._rate_at(self._clock()))

    def _leave(self, fut: asyncio.Future[None]) -> None:
        # Invariant: only the head of the line waits for tokens; whoever leaves the head
        # (served or cancelled) hands the turn to the next waiter, so no wake-up is lost.
        was_head = self._waiters[0] is fut
        self._waiters.remove(fut)
        if was_head and self._waiters and not self._waiters[0].done():
            self._waiters[0].set_result(None)


def _min_gap(times: list[float]) -> float:
    """The shortest interval between consecutive sorted times (inf for fewer than two)."""
    return min((b - a for a, b in itertools.pairwise(times)), default=math.inf)

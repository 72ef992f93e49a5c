"""RateController: the send-rate decisions, pure (no asyncio, no clock of its own).

Every method takes ``now`` (seconds on the caller's clock). The state is a handful of
floats and every decision is a closed-form formula, so the same controller runs inside a
Redis Lua script over a hash (``qconnect_async.redis``) as well as in-process
(``AdaptiveRateLimiter``). Keep it that way: no collections, no loops over history.

The methods below are the algorithm; ``redis/_sharedbucket.lua`` is its port (``exp``,
``cbrt``, ``2**x`` as in C's libm), held to it by a differential test
(tests/test_redis_lua.py).

Why this shape:

- ``w_max`` is what the service accepted lately, not what was sent: cut once per congestion
  event to ``beta`` of it, the rate climbs back to it concavely over ``k`` seconds.
- Growth is in absolute requests/s per second (a fixed ``scale``, as TCP CUBIC and
  aiobotocore's adaptive mode): independent clients sharing one quota converge to fair shares
  (the smaller ``w_max``, the smaller ``k``: a small member is back to its level first and
  probes while the large ones still recover). Growth proportional to one's own rate would
  preserve any unfair split, and a member near ``min_rate`` would never come back.
- Past ``max(hold, k)`` seconds of probing with no throttle the rate doubles every
  ``doubling`` seconds: the service has stopped throttling, so recovery from any depth takes
  seconds (``k`` is at most ``max_k``: from 1 req/s to 1000, 0.67 + 0.67 + 10 * 0.05 = 1.8 s;
  from 40, 1.2 + 1.2 + 5 * 0.05 = 2.7 s). Under a steady quota the next congestion event
  usually comes before that, so the doubling rarely matters for fairness.
- ``probe_gain`` (off by default: infinite) caps a probe past ``w_max`` at that many times
  what the service accepts lately (BBR's probing gain, as a cap): the probe still grows as
  fast as the answers let it, but it cannot run far ahead of them. Every send made while the
  first throttle is on its way back is throttled in turn, and a fleet's answers come back as
  late as its slowest member's: a capped probe meets the quota with fewer sends in the air.
  ``qconnect_async.redis.fleet_controller()`` turns it on (2.5, with a ``tau`` of 0.2 s that
  keeps recovery within 3 s).
- A stray throttle (under ``sporadic`` of the recent answers) while off or recovering cuts
  nothing: random throttles are not congestion. A quota met at full speed soon throttles
  more than that share, and a cold start's first throttle is most of its answers. Once
  probing, every throttle of a new event cuts, so no large member of a fleet keeps its share.
- The first cut restarts the accepted-rate measure: until then it counted the service's
  burst; from then on its bucket is empty and what it accepts is its rate.
- An isolated throttle cuts once to ``beta`` of the accepted rate and is back within ``k``
  (under a second at tens of requests/s): a dip, never a ratchet, because the cut is from
  what was accepted, not from the previous cut.
- After ``quiet`` seconds with no congestion event the controller is off again: a client
  throttled an hour ago pays nothing now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RateController"]


@dataclass(slots=True, kw_only=True)
class RateController:
    """Pure send-rate decisions; see the module docstring for the algorithm.

    Off (no pacing) until the service throttles. A congestion event cuts the rate once, to
    ``beta`` of what the service accepted lately; the rate climbs back along a cubic curve
    within ``max_k`` seconds, probes beyond it, then doubles every ``doubling`` seconds; after
    ``quiet`` seconds without congestion it is off again. Every method takes ``now``, seconds
    on the caller's clock: no asyncio, no clock of its own. Its fields are its constants (tune
    them as keyword arguments) and its state.

    Example:
        ```python
        gentler = AdaptiveRateLimiter(controller=RateController(beta=0.5, quiet=30.0))
        ```
    """

    # -- constants --
    #: share of the accepted rate a cut goes down to (TCP CUBIC's)
    beta: float = 0.7
    #: the further cut, on the ceiling, of a throttle that comes while still recovering
    recut: float = 0.8
    #: requests/s per s**3 of the cubic (aiobotocore: 0.4): back from a cut at 40 req/s in
    #: 2.3 s (k), at 10 req/s in 1.4 s; slower means rarer congestion events (fewer throttles)
    scale: float = 1.0
    #: seconds of probing past w_max without a throttle before the rate starts doubling:
    #: a quota usually throttles within it; past it the service has likely stopped throttling
    hold: float = 0.5
    #: seconds per doubling once it does: from 1 req/s to 1000 in 0.67 (k) + 1.0 + 10 * 0.1 s
    doubling: float = 0.05
    #: seconds without a congestion event after which the limiter is off again
    quiet: float = 10.0
    #: the rate never goes below this (a throttled client still sends, and so measures)
    min_rate: float = 0.5
    #: seconds, time constant of the accepted rate: long enough to average a few round
    #: trips, short enough that a cut follows the share a member has now
    tau: float = 1.0
    #: the accepted rate is measured over at least this many seconds, so that answers in
    #: the same millisecond do not read as thousands of requests/s; short, so that one
    #: answer of a sequential listing before an early throttle measures its pace
    min_span: float = 0.01
    #: the rate of the first cut, when nothing is measured yet (a cold start's answers read
    #: the service's burst as its rate): the published Q in Connect quota, 10 req/s; the rate
    #: probes (doubles) from there at once, and the next throttle measures
    unmeasured_rate: float = 10.0
    #: the recovery (``k``) never takes longer than this many seconds: from a cut at any
    #: rate the doubling starts within ``max_k + hold`` seconds (fixed-scale growth would
    #: take 4.9 s back to 400 req/s); below ~11 req/s (the fleet's shares) it is not reached
    max_k: float = 1.2
    #: while off or recovering, a throttle is sporadic (no cut) when throttles are
    #: less than this share of the recent answers (decayed as the accepted rate, never
    #: reset): a quota met at full speed throttles most sends within a round trip or two,
    #: a cut that was not deep enough (a cold start) too; 2% random throttles stay below it
    sporadic: float = 0.1

    #: a probe past w_max sends at most this many times the accepted rate (math.inf: no cap)
    probe_gain: float = math.inf

    # -- state --
    enabled: bool = False
    w_max: float = 0.0
    k: float = 0.0
    cut_at: float = -math.inf
    acc_value: float = 0.0
    acc_at: float = -math.inf
    acc_start: float = math.inf
    thr_value: float = 0.0
    thr_at: float = -math.inf
    seen_value: float = 0.0
    seen_at: float = -math.inf

    def rate(self, now: float) -> float:
        """Sends per second allowed at ``now``; infinite while off."""
        if not self.enabled:
            return math.inf
        t = now - self.cut_at - self.k
        if t < 0:  # recovering: concave, from beta * w_max at the cut to w_max at k
            r = self.w_max * (1.0 - (1.0 - self.beta) * (-t / self.k) ** 3)
        else:  # probing: convex, in absolute requests/s
            r = self.w_max + self.scale * t**3
        hold = max(self.hold, self.k)
        if t > hold:
            r = max(r, self.w_max * 2.0 ** min((t - hold) / self.doubling, 64.0))
        if t >= 0 and self.probe_gain < math.inf:  # a probe runs at most so far ahead
            r = min(r, max(self.w_max, self.probe_gain * self.accepted_rate(now)))
        return max(self.min_rate, r)

    def accepted_rate(self, now: float) -> float:
        """What the service accepted lately, in requests per second."""
        if self.acc_at == -math.inf:
            return 0.0
        decay = _decay(now - self.acc_at, self.tau)
        warm = 1.0 - math.exp(-max(now - self.acc_start, self.min_span) / self.tau)
        return self.acc_value * decay / self.tau / warm

    def on_accepted(self, now: float) -> None:
        """A send got an answer that is not a throttle."""
        if self.acc_at == -math.inf:
            self.acc_start = now
            self.acc_value = 0.0
        else:
            self.acc_value *= _decay(now - self.acc_at, self.tau)
        self.acc_value += 1.0
        self.acc_at = now
        self.seen_value = self.seen_value * _decay(now - self.seen_at, self.tau) + 1.0
        self.seen_at = now

    def on_throttle(self, now: float, sent_at: float) -> bool:
        """A send made at ``sent_at`` was throttled; True if this started a congestion event."""
        throttled = self.thr_value * _decay(now - self.thr_at, self.tau)
        self.thr_value, self.thr_at = throttled + 1.0, now
        if self.enabled and sent_at - self.cut_at <= now - sent_at:
            return False
        recovering = now - self.cut_at < self.k
        ceiling = self.rate(now)
        if not self.enabled or recovering:
            accepted = self.seen_value * _decay(now - self.seen_at, self.tau)
            if throttled + 1.0 < self.sporadic * (throttled + 1.0 + accepted):
                return False  # a stray throttle among many answers: no congestion
        if not self.enabled:
            # The first cut: nothing measured (a cold start's answers read the service's
            # burst as its rate), so probe from a guess at once; the next throttle measures.
            self.w_max = max(self.min_rate, min(self.unmeasured_rate, ceiling))
            self.k = -self.hold
        else:
            if recovering:
                # Throttled again, and often, before even reaching the last w_max: that
                # one was too high (a cold start reads the service's burst as rate).
                ceiling *= self.recut
            # Nothing accepted since the first cut restarted the measure: the ceiling only.
            measured = self.accepted_rate(now) if self.acc_value > 0 else ceiling
            self.w_max = max(self.min_rate, min(measured, ceiling))
            k = math.cbrt(self.w_max * (1.0 - self.beta) / self.scale)
            self.k = min(k, self.max_k)
        if not self.enabled:
            # The first cut: what was accepted so far included the service's burst, and
            # from now on its bucket is empty, so what it accepts next is its rate.
            self.acc_value, self.acc_at, self.acc_start = 0.0, now, now
        self.cut_at = now
        self.enabled = True
        return True

    def pace_at(self, now: float, rate: float) -> None:
        """Pace at ``rate`` from ``now``, probing from it (a fleet member pacing alone again)."""
        self.enabled = True
        self.w_max = max(self.min_rate, rate)
        self.k = 0.0
        self.cut_at = now

    def on_quiet(self, now: float) -> None:
        """Turn off after ``quiet`` seconds without a congestion event."""
        if self.enabled and now - self.cut_at > self.quiet:
            self.enabled = False


def _decay(elapsed: float, tau: float) -> float:
    """The weight left after ``elapsed`` seconds (0 for ``elapsed`` infinite)."""
    return math.exp(-elapsed / tau)

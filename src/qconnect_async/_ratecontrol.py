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
  from 40, 1.2 + 1.2 + 5 * 0.05 = 2.7 s), plus the plateau if there is one (below). Under a
  steady quota the next congestion event usually comes before that, so the doubling rarely
  matters for fairness.
- A probe can cost requests, not seconds (``probe_requests``, off by default). The quota is
  one bucket per account and Region, shared with everything else the account runs: a probe
  that empties it throttles the account's next request, whoever sends it. The time-based
  cycle above (~2.5 s) costs 1 request in 25 at 10 req/s and 1 in 4 or 5 at 2 req/s. With
  ``probe_requests=40``, once its own probe was throttled (a quota that stays), the
  controller holds ``w_max`` for a ``plateau`` and probes again only once 40 requests were
  sent at it: about one probe per 40 requests; back to full speed once the quota is lifted
  within max(3 s, 40 requests at ``w_max``): the plateau, the hold and 10 doublings (20 s at
  2 req/s: 40 is about the most a listing should wait). The plateau is where the time-based
  cycle holds fewer than ``probe_requests`` (below about 16 req/s); above, the cycle is 40
  requests or more already.
- It is off by default because it cannot tell a quota of its own from a share of one:
  independent clients reach fair shares only through frequent congestion events, and a
  member squeezed to a small share holds it through its plateaus (8 independent clients on
  one 40 req/s quota, each with ``probe_requests=40``: the slowest up to 2.4x the ideal, 1.2x
  by default; tests/test_ratelong.py). A client alone on its quota, or the one controller a
  fleet shares in Redis, can turn it on.
- A plateau follows only the controller's own probe, met in the cubic probe near ``w_max``
  (or past it with a count that shows the service's bucket kept what was not sent). A
  throttle while recovering or in a plateau means someone else grew or the quota dropped:
  then the time-based cycle. A probe met deep in the doubling with a count below the level
  held measures what was sent, not the quota (a tiny service burst overflows at once): no
  plateau either, so a level guessed far below the quota is not held.
- With ``probe_requests`` on, the first cut's guess is held for a whole token of it before
  the doubling: the service's bucket is empty, so a send before its next token is throttled
  whatever the quota (at 10 req/s with 10 ms round trips it halved the rate, and the level
  climbed back a few % a plateau: 1.12x the ideal wall). What is accepted is counted from
  that token on, not from the cut (an answer soon after it reads as the guess, not below).
- With ``probe_requests`` on, a throttle with nothing accepted since the first cut halves the
  rate (at most half the first cut's guess): the quota is below what was sent, and the
  doubling since the guess is no measure of it. Against 2 req/s it is down in two throttles,
  where the recut (80% of a doubled ceiling) takes about six. The halved level is a guess:
  a throttle with at most one answer since halves it again (one answer is anywhere within a
  whole answer of the rate: 2 req/s read as 3 ended up held at 1.64 two throttles later),
  then a quarter of a plateau, after which its count measures. Halved again after an answer,
  the quota is within twice the level: that plateau ends before what is not sent could fill
  the service's bucket (``burst_seen``), or the count reads its overflow as a low quota (3
  req/s held at 2.4). Off by default: members of a fleet of independent clients throttled
  before their first answer drop far below their share.
- The plateau's level is a lower bound of the quota, the largest of: the level that held
  through the last plateau; ``settle`` (97%) of the cycle's count, (n - 0.5) answers per
  second of the cycle (it starts and ends with the service's bucket empty, so it counts what
  the service let in, within half an answer); the accepted rate less the burst the probe
  drained (``burst_seen``: what the service let through at the cold start). The decayed
  measure alone reads the burst a probe drains as rate (2 req/s as 4, 10 as 12), and a
  plateau above the quota throttles in its middle. Below it, the service's bucket keeps
  what is not sent (3% of 40 requests: about one token) and the probe takes it back; but a
  level far below would be held through a whole plateau, and the bucket overflows, so a
  level counted over fewer than ``probe_requests / 8`` answers gets a quarter of the plateau
  first (too short for a burst of 5 to overflow), and a few answers since a cut are read as
  (n + 0.5) / span, not the decayed measure (which reads a fraction of an answer low right
  after a cut).
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
    #: 0 (the default): off. Else, for a client alone on its quota (or a fleet's shared
    #: controller): after its own probe was throttled, requests sent at the accepted rate
    #: before the next probe (where the time-based cycle is shorter); the steady probing
    #: cost is then about one probe per this many requests. Off by default because
    #: independent clients sharing a quota need the time-based cycle's frequent probes to
    #: reach fair shares: a member squeezed to a low rate would hold its small share.
    probe_requests: float = 0.0
    #: the plateau's share of its estimate of the quota (a lower bound): below the quota the
    #: service's bucket keeps what is not sent, above it the plateau throttles
    settle: float = 0.97
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
    plateau: float = 0.0
    cut_at: float = -math.inf
    acc_value: float = 0.0
    acc_count: float = 0.0
    burst_seen: float = 0.0
    acc_at: float = -math.inf
    acc_start: float = math.inf
    thr_value: float = 0.0
    thr_at: float = -math.inf
    seen_value: float = 0.0
    seen_at: float = -math.inf
    #: w_max is half a level throttled with (almost) nothing accepted: a guess
    halved: bool = False

    def rate(self, now: float) -> float:
        """Sends per second allowed at ``now``; infinite while off."""
        if not self.enabled:
            return math.inf
        t = now - self.cut_at - self.k
        if t < 0:  # recovering: concave, from beta * w_max at the cut to w_max at k
            r = self.w_max * (1.0 - (1.0 - self.beta) * (-t / self.k) ** 3)
        else:  # at w_max for the plateau, then probing: convex, in absolute requests/s
            t = max(0.0, t - self.plateau)
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

    def on_accepted(self, now: float, sent_at: float | None = None) -> None:
        """A send (made at ``sent_at``, when known) got an answer that is not a throttle."""
        if self.probe_requests > 0 and sent_at is not None and self.k < 0 and sent_at < self.cut_at:
            # A slow start's send, answered after the first cut: the service let it in with
            # its burst, not at its rate. It measures the burst, not the rate.
            self.burst_seen += 1.0
            self.seen_value = self.seen_value * _decay(now - self.seen_at, self.tau) + 1.0
            self.seen_at = now
            return
        if self.acc_at == -math.inf:
            self.acc_start = now
            self.acc_value = 0.0
        else:
            self.acc_value *= _decay(now - self.acc_at, self.tau)
        self.acc_value += 1.0
        self.acc_count += 1.0
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
            if self.probe_requests > 0:
                # The service's bucket is empty: its next token comes a whole token at the
                # guess after the cut, so the doubling starts only then (a send made before
                # it is throttled whatever the quota, and would halve the guess).
                self.k += min(1.0 / self.w_max, 0.5 * self.hold)
            self.plateau = 0.0
            # What the service let through before throttling: its burst (the slow start's
            # answers that come after this cut are added by on_accepted), which a later
            # probe drains again before it is throttled.
            self.burst_seen = self.acc_count
        else:
            if recovering:
                ceiling *= self.recut
            n, span = self.acc_count, now - self.cut_at
            # Our own probe past w_max met the quota (not a throttle while recovering or in
            # the plateau: someone else's growth, or a quota that dropped).
            probing = self.k > 0 and span >= self.k + self.plateau
            counted = False
            # A halved level is a guess too: a throttle with at most one answer since it
            # measures nothing either (one answer is anywhere within a whole answer of it).
            halving = self.probe_requests > 0 and (self.acc_value <= 0 or (self.halved and n < 2))
            if halving:
                # Nothing accepted since the first cut (or a halved guess met again): the quota
                # is below what was sent (the guess, doubling since), so half of it:
                # against a small quota each throttle halves the rate, where the recut
                # alone (80%) took twice as many throttles to get down to it.
                measured = 0.5 * min(ceiling, self.w_max)
            elif self.acc_value > 0:
                measured = self.accepted_rate(now)
            else:  # the ceiling only
                measured = ceiling
            low = self._low_rate(measured)
            if span < self.tau and not halving and self.acc_value > 0 and low:
                # At a low rate, a few answers since the last cut (which emptied the service's
                # bucket): n of them in span seconds is a rate within half an answer of
                # (n + 0.5) / span. The decayed measure reads a fraction of an answer low
                # there, and a level read low would be held through a whole plateau.
                measured = max(measured, (n + 0.5) / span)
            # The cycle's count: it began and ended with the service's bucket empty, so n
            # answers in span seconds are what the service let in, within half an answer.
            count = (n - 0.5) / span if probing and n > 0 else 0.0
            # Met in the cubic probe, near w_max: the count measures the quota. Met in the
            # doubling, past it: a count below the level held is what we sent, not what the
            # service takes (the cycle sent below a quota far above a guessed level, and the
            # service's bucket overflowed); one above it kept what was not sent. After a
            # plateau (its level held) the probe drains what the bucket kept, so it often
            # meets the quota in the doubling: the count measures then too.
            near = ceiling <= 2.0 * self.w_max or count >= self.w_max or self.plateau > 0
            found = self.probe_requests > 0 and count > 0 and near
            found = found and self._plateau_for(count, 1.0) > 0
            if found:
                # Our own probe met the quota where a plateau holds (below about 16 req/s):
                # the level is a lower bound of the quota, the largest of what held through
                # the last plateau, what was accepted less the burst the probe drained (at
                # low rates seconds of quota), and the count (the decayed measure reads the
                # drained burst as rate, and the plateau above the quota throttles).
                held = self.w_max if self.plateau > 0 else 0.0
                lower = max(measured - self.burst_seen / self.tau, self.settle * count)
                measured = max(held, lower)
                counted = n >= self.probe_requests / 8
            self.w_max = max(self.min_rate, min(measured, ceiling))
            k = math.cbrt(self.w_max * (1.0 - self.beta) / self.scale)
            self.k = min(k, self.max_k)
            # After our own probe's cut, the next probe only once probe_requests were sent at
            # w_max (0 where the time-based cycle is as long): a level not counted over
            # probe_requests / 8 answers is a guess, so a quarter of the plateau first, too
            # short for the service's bucket to overflow if it is low (its count then
            # measures the quota). After a throttle with nothing accepted since the first
            # cut, the halved level is a guess too: a quarter plateau, and its count
            # measures. After any other throttle (while recovering or in a plateau: someone
            # else's growth, or a quota that dropped), the time-based cycle.
            if found:
                self.plateau = self._plateau_for(self.w_max, 1.0 if counted else 0.25)
            elif halving:
                self.plateau = self._plateau_for(self.w_max, 0.25)
                if self.halved and n > 0:
                    # Halved again after an answer: the quota is within 2x of the level, so the
                    # plateau ends before what is not sent could fill the service's bucket.
                    room = self.burst_seen / self.w_max - self.k
                    self.plateau = min(self.plateau, max(0.0, room))
            else:
                self.plateau = 0.0
        if not self.enabled:
            # The first cut: what was accepted so far included the service's burst, and
            # from now on its bucket is empty, so what it accepts next is its rate.
            # With probe_requests on it is counted from the guess's first token (the sends
            # resume then): counted from the cut, an answer soon after reads below the guess.
            start = now + (self.k + self.hold if self.probe_requests > 0 else 0.0)
            self.acc_value, self.acc_at, self.acc_start = 0.0, now, start
            self.halved = False
        else:
            self.halved = halving
        self.cut_at = now
        self.acc_count = 0.0
        self.enabled = True
        return True

    def _low_rate(self, rate: float) -> bool:
        """Whether a time-based cycle at ``rate`` holds fewer than a quarter of probe_requests.

        Below it (about 4 req/s with probe_requests=40) a cycle is a handful of answers, read
        as a count within half an answer rather than the decayed measure; never without
        probe_requests.
        """
        return self._plateau_for(rate, 0.25) > 0

    def _plateau_for(self, w_max: float, share: float) -> float:
        """Seconds at ``w_max`` before probing: ``share`` of probe_requests' time, less the rest."""
        k = min(self.max_k, math.cbrt(w_max * (1.0 - self.beta) / self.scale))
        span = share * self.probe_requests / w_max
        return max(0.0, span - k - max(self.hold, k) - 10 * self.doubling)

    def pace_at(self, now: float, rate: float) -> None:
        """Pace at ``rate`` from ``now``, probing from it (a fleet member pacing alone again)."""
        self.enabled = True
        self.w_max = max(self.min_rate, rate)
        self.k = 0.0
        self.plateau = 0.0
        self.cut_at = now
        self.acc_count = 0.0
        self.halved = False

    def on_quiet(self, now: float) -> None:
        """Turn off after ``quiet`` seconds without a congestion event, past the plateau."""
        if self.enabled and now - self.cut_at - self.plateau > self.quiet:
            self.enabled = False


def _decay(elapsed: float, tau: float) -> float:
    """The weight left after ``elapsed`` seconds (0 for ``elapsed`` infinite)."""
    return math.exp(-elapsed / tau)

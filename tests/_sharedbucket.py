"""SharedBucket: one send decision of a fleet, pure; the Python twin of ``_sharedbucket.lua``.

A test oracle: ``qconnect_async.redis`` runs this decision inside Redis, as one Lua script over
one hash, so that every member of a fleet shares one controller and one schedule. This module is
the same decision in Python: the reference the Lua is a line-by-line transcription of (the
differential test feeds both the same events). Its controller is ``RateController`` itself: the
algorithm has one Python declaration, and the Lua gets its constants from an instance
(``CONTROLLER_CONSTANTS``, in ARGV order).

One decision, at ``now`` (the server's clock in Redis):

1. ``controller.on_quiet(now)``.
2. The outcomes reported since the last decision: ``accepted`` answers, then each throttle
   with the time its send was decided (``sent_at``). A throttle that starts a congestion event
   ends the slow start.
3. If a send is asked for: a slot on a virtual schedule (GCRA) at the allowed rate. ``tat`` is
   the theoretical arrival time of the next send; up to ``burst`` sends may leave at once.
   The caller sleeps ``wait`` and sends: no second round trip. The sends already queued are
   re-spaced at the current rate (``tat`` was set at ``interval``): a queue booked at a low
   rate does not hold back the sends booked after the rate rose. A slot further ahead than
   ``horizon`` seconds is not booked: the caller asks again after ``wait`` (at most
   ``horizon``), so no send sleeps long on a rate that may have moved since. How many sends
   are booked ahead is bounded by the members (each books ``ahead`` at a time).
4. A cut starts the schedule again at the new rate, one interval ahead (the throttle says
   the service's bucket is empty: the schedule's unused burst would meet it empty). The
   slots booked before it are void: ``qconnect_async.redis`` publishes the cut, and the
   members waiting for such a slot ask again (``rebook``: a slot, not counted as a new send).

The allowed rate is the controller's once it is on. Before the first throttle of a new key it
is a slow start: ``start_rate`` doubling every ``start_doubling`` seconds (TCP's initial
window as a rate), so a cold fleet does not meet the service's small burst all at once; after
``START_DOUBLINGS`` doublings it is over (infinite). Off again after ``quiet``: infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from qconnect_async import RateController
from qconnect_async.redis._script import START_DOUBLINGS, Decision

__all__ = ["SharedBucket"]


@dataclass(slots=True, kw_only=True)
class SharedBucket:
    """The controller, the slow start and the schedule of one fleet; see the module docstring."""

    controller: RateController = field(default_factory=RateController)
    burst: float = 4.0
    start_rate: float = 10.0
    start_doubling: float = 0.25
    horizon: float = 1.0

    # -- state (the Lua keeps the same fields in its hash) --
    tat: float = -math.inf
    interval: float = 0.0  # the spacing ``tat`` was booked at
    start_at: float = 0.0
    start_from: float | None = None  # None: a new key; 0.0: the slow start is over
    sends: int = 0
    cuts: int = 0

    def allowed(self, now: float) -> float:
        """Sends per second allowed at ``now``."""
        if self.controller.enabled:
            return self.controller.rate(now)
        if self.start_from:
            doublings = (now - self.start_at) / self.start_doubling
            if doublings < START_DOUBLINGS:
                return self.start_from * math.pow(2.0, doublings)
        return math.inf

    def decide(
        self,
        now: float,
        *,
        acquire: bool,
        accepted: int = 0,
        throttles: tuple[float, ...] = (),
        rebook: bool = False,
    ) -> Decision:
        """One decision; see the module docstring. ``rebook``: a voided booking asks again."""
        c = self.controller
        if self.start_from is None:
            self.start_from = self.start_rate
            self.start_at = now
        c.on_quiet(now)
        for _ in range(accepted):
            c.on_accepted(now)
        cut = False
        for sent_at in throttles:
            if c.on_throttle(now, sent_at):
                cut = True
                self.cuts += 1
                self.start_from = 0.0
        if cut:
            self._void_bookings(now)
        wait = 0.0
        granted = True
        if acquire:
            rate = self.allowed(now)
            if rate == math.inf:
                self.sends += 0 if rebook else 1
                self.tat = now
                self.interval = 0.0
            else:
                interval = 1.0 / rate
                head = now
                if self.tat > now:
                    head = now + (self.tat - now) * (interval / self.interval)
                slot = max(now, head - (self.burst - 1.0) * interval)
                wait = slot - now
                if wait > self.horizon:
                    granted = False
                    wait = min(self.horizon, wait - self.horizon)
                else:
                    self.sends += 0 if rebook else 1
                    self.tat = head + interval
                    self.interval = interval
        return Decision(now, wait, self.allowed(now), cut, granted)

    def _void_bookings(self, now: float) -> None:
        """After a cut: the schedule starts again at the new rate, with no burst left.

        The sends booked before the cut are void (the members hear of the cut and book
        again), and the throttle says the service's bucket is empty: the next send is one
        interval away, not a burst at once.
        """
        interval = 1.0 / self.allowed(now)  # finite: the controller is on after a cut
        self.tat = now + self.burst * interval
        self.interval = interval

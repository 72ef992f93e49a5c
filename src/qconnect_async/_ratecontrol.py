"""RateController: the send-rate decisions, pure (no asyncio, no clock of its own).

Every method takes ``now`` (seconds on the caller's clock). The state is a handful of
floats and every decision is a closed-form formula, so the same controller can run inside a
Redis Lua script over a hash (``qconnect_async.redis``) as well as in-process
(``AdaptiveRateLimiter``). Keep it that way: no collections, no loops over history.

The shape (CUBIC with a fixed scale, so growth is in absolute requests/s per unit of time and
independent clients converge to fair shares):

- Off until the first throttle (``rate`` is infinite).
- A throttle of a send made after the last cut starts a congestion event: ``w_max`` becomes
  the rate the service accepted lately (never more than the rate allowed), the rate drops to
  ``beta * w_max``. Throttles of sends made before the cut belong to that event: no new cut.
- Concave recovery: back to ``w_max`` after ``k = cbrt(w_max * (1 - beta) / scale)`` seconds.
- Probing: beyond ``w_max`` the rate doubles every ``probe_doubling`` seconds, so recovery
  from any depth takes seconds once the service stops throttling.
- After ``quiet`` seconds without a throttle the controller turns off again.

The accepted rate is a bias-corrected exponentially decaying count (time constant ``tau``):
closed-form too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RateController"]


@dataclass(slots=True, kw_only=True)
class RateController:
    """Pure send-rate decisions; see the module docstring."""

    # -- constants (tunable, with a line on why each where it is set) --
    beta: float = 0.7
    scale: float = 1.0  # requests/s per s**3
    probe_doubling: float = 0.25
    quiet: float = 30.0
    min_rate: float = 0.5
    tau: float = 1.0

    # -- state --
    enabled: bool = False
    w_max: float = 0.0
    k: float = 0.0
    cut_at: float = -math.inf
    acc_value: float = 0.0
    acc_at: float = -math.inf
    acc_start: float = math.inf

    def rate(self, now: float) -> float:
        """Sends per second allowed at ``now``; infinite while off."""
        if not self.enabled:
            return math.inf
        t = now - self.cut_at
        if t < self.k:
            r = self.w_max + self.scale * (t - self.k) ** 3
        else:
            r = self.w_max * 2.0 ** min((t - self.k) / self.probe_doubling, 64.0)
        return max(self.min_rate, r)

    def accepted_rate(self, now: float) -> float:
        """What the service accepted lately, in requests per second."""
        if self.acc_at == -math.inf:
            return 0.0
        decay = math.exp(-(now - self.acc_at) / self.tau)
        warm = 1.0 - math.exp(-max(now - self.acc_start, 1e-9) / self.tau)
        return self.acc_value * decay / self.tau / warm

    def on_accepted(self, now: float) -> None:
        """A send got an answer that is not a throttle."""
        if self.acc_at == -math.inf:
            self.acc_start = now
            self.acc_value = 0.0
        else:
            self.acc_value *= math.exp(-(now - self.acc_at) / self.tau)
        self.acc_value += 1.0
        self.acc_at = now

    def on_throttle(self, now: float, sent_at: float) -> bool:
        """A send made at ``sent_at`` was throttled; True if this started a congestion event."""
        if self.enabled and sent_at <= self.cut_at:
            return False
        accepted = self.accepted_rate(now)
        ceiling = self.rate(now)
        self.w_max = max(self.min_rate, min(accepted, ceiling))
        self.k = math.cbrt(self.w_max * (1.0 - self.beta) / self.scale)
        self.cut_at = now
        self.enabled = True
        return True

    def on_quiet(self, now: float) -> None:
        """Turn off after ``quiet`` seconds without a congestion event."""
        if self.enabled and now - self.cut_at > self.quiet:
            self.enabled = False

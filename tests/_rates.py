"""Answers fed to a RateController: a steady service, a congestion event (shared by the
controller's tests and the fleet's shared-bucket tests)."""

from __future__ import annotations

from qconnect_async import RateController


def steady(control: RateController, rate: float, start: float, end: float) -> None:
    """The service accepts requests sent evenly at ``rate`` from ``start`` to ``end``."""
    t = start
    while t <= end:
        control.on_accepted(t)
        t += 1 / rate


def congest(control: RateController, t: float) -> int:
    """Throttles answered at ``t`` until one starts a congestion event; how many it took."""
    for n in range(1, 50):
        if control.on_throttle(t, sent_at=t - 0.01):
            return n
    raise AssertionError("no congestion event after 49 throttles")

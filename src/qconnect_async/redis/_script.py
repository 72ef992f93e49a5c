"""The fleet's decision script (``_sharedbucket.lua``): its text, its arguments, its answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from .._ratecontrol import RateController

__all__ = [
    "CONTROLLER_CONSTANTS",
    "SCRIPT",
    "SHA",
    "START_DOUBLINGS",
    "Decision",
    "fleet_controller",
    "fresh",
    "script_constants",
]

#: The decision script and its SHA1 (EVALSHA; loaded again after a NOSCRIPT).
SCRIPT = resources.files(__package__).joinpath("_sharedbucket.lua").read_text("utf-8")
SHA = hashlib.sha1(SCRIPT.encode("utf-8")).hexdigest()

#: The RateController fields the Lua takes in ARGV[2..16], in this order.
CONTROLLER_CONSTANTS = (
    "beta",
    "recut",
    "scale",
    "hold",
    "doubling",
    "quiet",
    "min_rate",
    "tau",
    "min_span",
    "unmeasured_rate",
    "probe_requests",
    "settle",
    "max_k",
    "sporadic",
    "probe_gain",
)

#: A new key's slow start ends after this many doublings (no pacing left to speak of).
START_DOUBLINGS = 20.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What one decision answers."""

    now: float  # the decision's time: the throttled send's ``sent_at`` later
    wait: float  # seconds until the slot (0 when no send was asked for)
    rate: float  # the allowed rate after the decision (``math.inf``: not pacing)
    cut: bool  # this decision started a congestion event
    granted: bool = True  # False: no slot booked, ask again after ``wait``


def script_constants(
    controller: RateController,
    burst: float,
    start_rate: float,
    start_doubling: float,
    horizon: float,
) -> list[str]:
    """ARGV[2..21] of the script: the constants, read from one ``RateController``."""
    values = (
        *(getattr(controller, name) for name in CONTROLLER_CONSTANTS),
        burst,
        start_rate,
        start_doubling,
        horizon,
        START_DOUBLINGS,
    )
    return [repr(float(value)) for value in values]


def fleet_controller() -> RateController:
    """The shared controller's default constants: ``RateController``'s, but two.

    - ``probe_gain=2.5``: a probe past ``w_max`` sends at most 2.5 times what the service
      accepts lately. A fleet's answers come back as late as its slowest member's, and every
      send made meanwhile at a rate past the quota is throttled: an uncapped probe (doubling
      every 0.05 s) met the quota with many sends in the air.
    - ``tau=0.2``: one controller hears the answers of the whole fleet, so a short window is
      not noisy; the capped probe grows as fast as that measure follows it (back to full
      speed within 3 s, as the in-process limiter), and a cut follows what the service
      accepted during the event, not over the last second spent mostly below the quota.
    """
    return RateController(tau=0.2, probe_gain=2.5)


def fresh(constants: RateController) -> RateController:
    """A new controller (start state) with the constants of ``constants``."""
    return RateController(**{name: getattr(constants, name) for name in CONTROLLER_CONSTANTS})

"""SharedBucket, the decision RedisRateLimiter runs in Lua: pure, times passed in."""

from __future__ import annotations

import dataclasses
import math

import pytest

from _rates import congest, steady
from _sharedbucket import SharedBucket
from qconnect_async._ratecontrol import RateController
from qconnect_async.redis import fleet_controller
from qconnect_async.redis._script import CONTROLLER_CONSTANTS

T0 = 1_000.0


def test_a_new_key_starts_slow_and_doubles() -> None:
    """A cold fleet starts at start_rate, `burst` sends at once, then doubles each period."""
    bucket = SharedBucket(burst=2.0, start_rate=10.0, start_doubling=0.25)
    waits = [bucket.decide(T0, acquire=True).wait for _ in range(3)]
    assert waits == [0.0, 0.0, pytest.approx(0.1)]
    assert bucket.allowed(T0 + 0.25) == pytest.approx(20.0)
    assert bucket.allowed(T0 + 10.0) == math.inf  # slow start over: not pacing


def test_a_throttle_ends_the_slow_start_and_paces_at_the_controller() -> None:
    """The first congestion event hands the rate to the controller, cut once."""
    bucket = SharedBucket(start_rate=10.0)
    for n in range(20):
        bucket.decide(T0 + n * 0.05, acquire=True, accepted=1)
    first = bucket.decide(T0 + 1.0, acquire=False, throttles=(T0 + 0.9, T0 + 0.95))
    again = bucket.decide(T0 + 1.01, acquire=False, throttles=(T0 + 0.99,))
    assert first.cut and not again.cut and bucket.cuts == 1
    assert bucket.start_from == 0.0
    assert first.rate == pytest.approx(bucket.controller.rate(T0 + 1.0))


def test_a_queue_booked_at_a_low_rate_is_respaced_when_the_rate_rises() -> None:
    """Sends booked after the rate rose are spaced at the new rate, not behind the old queue."""
    controller = RateController(enabled=True, w_max=1.0, k=0.0, cut_at=T0 - 1.0)
    slow = SharedBucket(controller=controller, burst=1.0, horizon=10.0)
    slow.controller.doubling = 1e9  # a flat 1 req/s while the queue is booked
    slow.controller.scale = 0.0
    for _ in range(3):
        slow.decide(T0, acquire=True)  # booked at 0, 1, 2 s: tat = T0 + 3
    slow.controller.w_max = 100.0  # the fleet's rate rose a hundredfold
    assert slow.decide(T0, acquire=True).wait == pytest.approx(0.03)


def test_a_slot_beyond_the_horizon_is_not_booked() -> None:
    """Past `horizon`, the ask is turned away (no send counted) and told when to ask again."""
    controller = RateController(enabled=True, w_max=0.5, k=0.0, cut_at=T0, doubling=1e9)
    bucket = SharedBucket(controller=controller, burst=1.0, horizon=1.0)
    assert bucket.decide(T0, acquire=True).granted  # 0.5 req/s: the next slot is 2 s away
    later = bucket.decide(T0, acquire=True)
    assert not later.granted
    assert later.wait == pytest.approx(1.0)  # min(horizon, 2 s - horizon)
    assert bucket.sends == 1
    assert bucket.decide(T0 + 1.0, acquire=True).granted


def test_the_lua_is_given_every_constant_of_the_controller() -> None:
    """CONTROLLER_CONSTANTS names every RateController field that is not state."""
    state = {"enabled", "w_max", "k", "cut_at", "acc_value", "acc_at", "acc_start"}
    state |= {"thr_value", "thr_at", "seen_value", "seen_at"}
    state |= {"plateau", "acc_count", "burst_seen", "halved"}
    constants = {f.name for f in dataclasses.fields(RateController)} - state
    assert set(CONTROLLER_CONSTANTS) == constants
    assert len(CONTROLLER_CONSTANTS) == len(constants)


def test_a_cut_starts_the_schedule_again_with_no_burst() -> None:
    """After a cut the next send is one interval away: the service's bucket is empty."""
    bucket = SharedBucket(controller=RateController(), burst=4.0, start_rate=10_000.0)
    for _ in range(3):
        bucket.decide(T0, acquire=True)
    cut = bucket.decide(T0 + 0.01, acquire=True, throttles=(T0,))
    assert cut.cut
    interval = 1.0 / cut.rate
    assert cut.wait == pytest.approx(interval)  # not at once, as the unused burst would
    second = bucket.decide(T0 + 0.01, acquire=True)
    assert second.wait == pytest.approx(2 * interval, rel=0.01)


def test_a_voided_booking_asking_again_is_not_a_new_send() -> None:
    """`rebook`: a slot again for a send a cut voided, not counted twice in `sends`."""
    rebooked, booked = (SharedBucket(start_rate=10.0) for _ in range(2))
    for bucket, rebook in ((rebooked, True), (booked, False)):
        bucket.decide(T0, acquire=True)
        assert bucket.decide(T0, acquire=True, rebook=rebook).granted
    assert (rebooked.sends, booked.sends) == (1, 2)
    assert rebooked.tat == booked.tat  # the slot is booked all the same


def _recovery(control: RateController, depth: float, demand: float = 400.0) -> float:
    """Seconds from a cut at ``depth`` req/s until the rate is 90% of ``demand``, no limit.

    The answers come back (20 ms later) for every send: a capped probe grows with them.
    """
    congest(control, 0.0)
    steady(control, depth, 0.0, 10.0)
    congest(control, 10.0)
    t, step, credit, answers = 10.0, 0.001, 0.0, list[float]()
    while t < 20.0:
        credit += min(control.rate(t), demand) * step
        while credit >= 1.0:
            credit -= 1.0
            answers.append(t + 0.02)
        while answers and answers[0] <= t:
            control.on_accepted(answers.pop(0))
        if control.rate(t) >= 0.9 * demand:
            return t - 10.0
        t += step
    return math.inf


@pytest.mark.parametrize("depth", [0.5, 1.0, 10.0, 40.0, 400.0])
def test_a_fleet_recovers_within_3_s_though_its_probe_is_capped(depth: float) -> None:
    """fleet_controller's probe_gain caps the probe; the answers lift the cap fast enough."""
    assert _recovery(fleet_controller(), depth) <= 3.0


def test_a_capped_probe_runs_at_most_probe_gain_ahead_of_the_answers() -> None:
    """Probing past w_max: never above probe_gain x the accepted rate (nor below w_max)."""
    control = fleet_controller()
    congest(control, 0.0)
    steady(control, 40.0, 0.0, 10.0)
    congest(control, 10.0)
    steady(control, 40.0, 10.0, 14.0)  # recovered; probing, doubling past hold
    accepted = control.accepted_rate(14.0)
    assert control.rate(14.0) == pytest.approx(max(control.w_max, 2.5 * accepted))
    uncapped = dataclasses.replace(control, probe_gain=math.inf)
    assert uncapped.rate(14.0) > 2 * control.rate(14.0)  # the cap is what held it

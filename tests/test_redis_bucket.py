"""SharedBucket, the decision RedisRateLimiter runs in Lua: pure, times passed in."""

from __future__ import annotations

import dataclasses
import math

import pytest

from qconnect_async._ratecontrol import RateController
from qconnect_async._sharedbucket import CONTROLLER_CONSTANTS, SharedBucket

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

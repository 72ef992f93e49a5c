"""The Lua decision against its Python twin: the same events give the same rates and waits."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from _redis_server import RedisServer
from _sharedbucket import SharedBucket
from qconnect_async._ratecontrol import RateController
from qconnect_async.redis import fleet_controller
from qconnect_async.redis._script import SCRIPT, Decision, script_constants

_KEY = "{differential}:rate"


class _Lua:
    """The script on a real Redis, with ``now`` passed in (the test-only ARGV override)."""

    def __init__(self, server: RedisServer, bucket: SharedBucket) -> None:
        self._client = server.sync()
        self._sha = self._client.script_load(SCRIPT)
        b = bucket
        self._constants = script_constants(
            b.controller, b.burst, b.start_rate, b.start_doubling, b.horizon
        )

    def decide(
        self,
        now: float,
        *,
        acquire: bool,
        accepted: int = 0,
        throttles: tuple[float, ...] = (),
        rebook: bool = False,
    ) -> Decision:
        args = [
            repr(now),
            *self._constants,
            "60000",
            "",  # no channel: nothing published
            ("2" if rebook else "1") if acquire else "0",
            str(accepted),
            *(repr(t) for t in throttles),
        ]
        answer = self._client.evalsha(self._sha, 1, _KEY, *args)
        now_, wait, rate, cut, granted = (v.decode() for v in answer)
        return Decision(float(now_), float(wait), float(rate), cut == "1", granted == "1")

    def state(self) -> dict[str, float]:
        raw = self._client.hgetall(_KEY)
        return {k.decode(): float(v) for k, v in raw.items()}


def _same(lua: Decision, py: Decision) -> None:
    assert lua.now == py.now
    assert lua.cut == py.cut
    assert lua.granted == py.granted
    assert lua.wait == pytest.approx(py.wait, rel=1e-9, abs=1e-9)
    if math.isinf(py.rate):
        assert math.isinf(lua.rate)
    else:
        assert lua.rate == pytest.approx(py.rate, rel=1e-9)


def _events(seed: int, count: int) -> list[tuple[float, str, int]]:
    """A random day of a fleet: sends, acceptances, throttles, pauses past ``quiet``."""
    rng = random.Random(seed)
    now = 1_764_000_000.0 + rng.random()
    events = []
    for _ in range(count):
        roll = rng.random()
        now += 35.0 if roll < 0.01 else rng.expovariate(40.0)
        if roll < 0.55:
            events.append((now, "acquire", 0))
        elif roll < 0.9:
            events.append((now, "accepted", rng.randint(1, 5)))
        else:
            events.append((now, "throttle", rng.randint(1, 3)))
    return events


@pytest.mark.parametrize("seed", range(6))
def test_lua_decides_as_the_python_controller(redis_server: RedisServer, seed: int) -> None:
    """Fed the same events at the same times, the Lua and SharedBucket give the same decisions."""
    # Even seeds: the in-process constants; odd ones: a fleet's (its probe capped).
    bucket = SharedBucket(controller=RateController() if seed % 2 == 0 else fleet_controller())
    lua = _Lua(redis_server, bucket)
    decided: list[float] = []  # decision times of sends: what throttles point back to
    rng = random.Random(seed + 100)
    cuts = 0
    for now, kind, n in _events(seed, 400):
        if kind == "acquire":  # now and then a booking a cut voided, asking again
            args: dict[str, object] = {"acquire": True, "rebook": rng.random() < 0.1}
        elif kind == "accepted":
            args = {"acquire": False, "accepted": n}
        else:
            recent = decided[-8:] or [now - 1.0]
            args = {"acquire": rng.random() < 0.5, "throttles": tuple(rng.choices(recent, k=n))}
        py = bucket.decide(now, **args)  # type: ignore[arg-type]
        _same(lua.decide(now, **args), py)  # type: ignore[arg-type]
        cuts += py.cut
        if kind == "acquire":
            decided.append(py.now)
    state = lua.state()
    assert cuts > 0  # the sequence did reach the controller's cuts
    assert state["cuts"] == bucket.cuts == cuts
    assert state["sends"] == bucket.sends
    assert state["w_max"] == pytest.approx(bucket.controller.w_max, rel=1e-12)
    assert state["tat"] == pytest.approx(bucket.tat, rel=1e-15)


def test_lua_takes_the_constants_it_is_given(redis_server: RedisServer) -> None:
    """Other RateController constants change the Lua's decisions exactly as the Python's."""
    bucket = SharedBucket(
        controller=RateController(
            beta=0.5,
            recut=0.6,
            scale=3.0,
            hold=0.2,
            doubling=0.5,
            min_rate=2.0,
            tau=0.5,
            min_span=0.05,
            unmeasured_rate=4.0,
            max_k=0.3,
            sporadic=0.05,
            probe_gain=1.5,
        ),
        burst=1.0,
        start_rate=3.0,
        start_doubling=1.0,
        horizon=0.05,
    )
    lua = _Lua(redis_server, bucket)
    now = 1_764_000_000.25
    for step in range(200):
        now += 0.01
        if step % 50 == 49:
            args: dict[str, object] = {"acquire": True, "throttles": (now - 0.005,) * 3}
        elif step % 2:
            args = {"acquire": False, "accepted": 2}
        else:
            args = {"acquire": True}
        _same(lua.decide(now, **args), bucket.decide(now, **args))  # type: ignore[arg-type]
    assert bucket.cuts >= 4, bucket.cuts  # first cut, recuts while recovering, new events
    assert bucket.sends < 100  # the short horizon turned some asks away: that path ran too


class _Twins:
    """One bucket, probe_requests on, decided by the Lua and by the Python at the same times."""

    def __init__(self, redis_server: RedisServer, constants: RateController) -> None:
        self.bucket = SharedBucket(controller=dataclasses.replace(constants, probe_requests=40.0))
        self.lua = _Lua(redis_server, self.bucket)
        self.c = self.bucket.controller
        self.now = 1_764_000_000.5

    def both(self, **args: object) -> None:
        """The same decision from both at ``now``."""
        lua = self.lua.decide(self.now, **args)  # type: ignore[arg-type]
        _same(lua, self.bucket.decide(self.now, **args))  # type: ignore[arg-type]

    def same_state(self, *names: str) -> dict[str, float]:
        """The Lua's stored state equals the Python controller's in ``names``: that state."""
        state = self.lua.state()
        for name in names:
            assert state.get(name, 0.0) == pytest.approx(getattr(self.c, name), rel=1e-12), name
        return state


@pytest.mark.parametrize("fleet", [False, True], ids=["in_process", "fleet"])
def test_lua_follows_the_python_through_plateaus(redis_server: RedisServer, fleet: bool) -> None:
    """A low quota probed again and again: the same plateaus, counts and burst bound."""
    t = _Twins(redis_server, fleet_controller() if fleet else RateController())
    c = t.c
    plateaus = []
    for _ in range(10):  # a slow start's answers, then its first throttle
        t.now += 0.05
        t.both(acquire=True, accepted=1)
    t.both(acquire=True, throttles=(t.now - 0.01,))
    for cycle in range(5):  # five probes, each met: 1 req/s, then 2 (the cycle's count)
        probe_at = c.cut_at + max(c.k, 0.0) + c.plateau + (0.3 if cycle < 3 else 1.5)
        while t.now < probe_at:
            t.now += 1.0
            t.both(acquire=True, accepted=1 + (cycle >= 3))
        t.now += 0.5  # the probe's throttle, half a second after the last answer
        t.both(acquire=True, throttles=(t.now - 0.01,))
        plateaus.append(c.plateau)
    t.same_state("w_max", "k", "plateau", "acc_count", "burst_seen", "cut_at")
    assert max(plateaus) > 2.0  # the plateaus were reached: seconds at w_max before probing


def test_lua_follows_the_python_through_halvings_and_a_doubling_probe(
    redis_server: RedisServer,
) -> None:
    """Throttles with nothing accepted (each halves; the last guess is held a quarter
    plateau), then a probe met deep in the doubling after it: the same levels and plateaus."""
    t = _Twins(redis_server, RateController())
    c = t.c
    for _ in range(3):  # the first cut, then two halvings: nothing accepted since
        t.now += 0.3
        t.both(acquire=True, throttles=(t.now - 0.01,))
    assert c.plateau > 0  # the halved guess: a quarter plateau
    halved = c.w_max
    probe_at = c.cut_at + c.k + c.plateau + max(c.hold, c.k) + 0.3  # in the doubling
    while t.now < probe_at:
        t.now += 1.0 / halved
        t.both(acquire=True, accepted=1)
    t.now += 0.01
    t.both(acquire=True, throttles=(t.now - 0.005,))
    t.same_state("w_max", "k", "plateau", "acc_count", "cut_at")


def test_lua_follows_the_python_through_a_halving_after_one_answer(
    redis_server: RedisServer,
) -> None:
    """probe_requests on: the guess held a token after the first cut, a throttle with nothing
    accepted (halved), then one with one answer since (halved again, its plateau bounded by
    the burst), then a probe: the same levels, plateaus and accepted-rate start."""
    t = _Twins(redis_server, RateController())
    c = t.c
    for _ in range(5):  # the cold start's burst, then its first throttle
        t.now += 0.01
        t.both(acquire=True, accepted=1)
    t.both(acquire=True, throttles=(t.now - 0.005,))
    t.now += 0.15
    t.both(acquire=True, throttles=(t.now - 0.005,))  # nothing accepted since: halved
    halved = c.w_max
    t.now += 0.4
    t.both(acquire=True, accepted=1)
    t.now += 0.1
    t.both(acquire=True, throttles=(t.now - 0.005,))  # one answer since: halved again
    assert c.halved and c.w_max <= 0.5 * halved
    assert 0 < c.plateau <= c.burst_seen / c.w_max - c.k
    state = t.same_state("w_max", "k", "plateau", "acc_count", "acc_start", "burst_seen", "cut_at")
    assert state["halved"] == 1.0
    probe_at = c.cut_at + c.k + c.plateau + 0.3
    while t.now < probe_at:
        t.now += 1.0 / c.w_max
        t.both(acquire=True, accepted=1)
    t.now += 0.01
    t.both(acquire=True, throttles=(t.now - 0.005,))
    assert not c.halved and t.lua.state()["halved"] == 0.0

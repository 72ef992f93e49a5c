"""AdaptiveRateLimiter on the loop's fake clock: its line of waiters, slow start and pacing.

No test sleeps: every test runs on FakeClockLoop (``fake_clock``), whose clock jumps to the
next timer whenever every task waits. The controller is pure (``now`` is an argument); the
limiter and the simulated service (``tests/_simbucket.py``) read the loop's clock, the only one.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Awaitable, Callable, Iterator

import pytest

from _fake_time import FakeTime
from _simbucket import Service, list_kbs, now
from qconnect_async import (
    AdaptiveRateLimiter,
    RateController,
    RateLimiter,
    SendOutcome,
    ValidationError,
)
from qconnect_async._config import set_testing
from qconnect_async._ratelimit import INITIAL_WINDOW

pytestmark = pytest.mark.fake_clock

ACCEPTED, THROTTLED = SendOutcome.ACCEPTED, SendOutcome.THROTTLED


@pytest.fixture(autouse=True)
def _pacing_on() -> Iterator[None]:
    """These tests measure pacing: testing mode off."""
    with set_testing(False):
        yield


async def worker(
    limiter: RateLimiter[float], service: Service, who: str, until: float, latency: float
) -> None:
    """One request after another, each paced by ``limiter``, until ``until``."""
    while now() < until:
        permit = await limiter.acquire()
        await asyncio.sleep(latency / 2)
        ok = service.admit(who)
        await asyncio.sleep(latency / 2)
        limiter.release(permit, ACCEPTED if ok else THROTTLED)


async def run_client(
    limiter: RateLimiter[float],
    service: Service,
    who: str,
    seconds: float,
    *,
    concurrency: int = 8,
    latency: float = 0.02,
) -> None:
    until = now() + seconds
    await asyncio.gather(
        *(worker(limiter, service, who, until, latency) for _ in range(concurrency))
    )


# -- off, and back off -------------------------------------------------------------------------


async def test_off_until_the_first_throttle() -> None:
    """Before any throttle acquire never waits past the window, and the rate is unlimited."""
    limiter = AdaptiveRateLimiter()
    for _ in range(1000):
        limiter.release(await limiter.acquire(), ACCEPTED)
    assert now() == 0.0
    assert not limiter.enabled
    assert limiter.rate == math.inf


async def test_quiet_turns_the_limiter_off() -> None:
    """A client throttled long ago pays nothing now: after ``quiet`` seconds it is off."""
    limiter = AdaptiveRateLimiter()
    limiter.release(await limiter.acquire(), THROTTLED)
    assert limiter.enabled and limiter.rate < math.inf
    await asyncio.sleep(limiter.controller.quiet + 0.1)
    start = now()
    for _ in range(100):
        limiter.release(await limiter.acquire(), ACCEPTED)
    assert now() == start
    assert not limiter.enabled


# -- one cut per congestion event --------------------------------------------------------------


# -- recovery ----------------------------------------------------------------------------------


def recovery_bound(control: RateController, rate: float) -> float:
    """Seconds a recovery from ``rate`` may take: max(3 s, probe_requests at ``rate``)."""
    return max(3.0, control.probe_requests / rate)


async def fresh_client_rate() -> float:
    """Pages per second of a new client with no quota (8 workers, 20 ms a page)."""
    fresh = Service(rate=None)
    await run_client(AdaptiveRateLimiter(), fresh, "fresh", 2.0)
    return fresh.accepted["fresh"] / 2.0


@pytest.mark.parametrize("probe_requests", [0.0, 40.0])
@pytest.mark.parametrize("quota", [2.0, 10.0, 40.0])
async def test_a_client_is_back_to_full_throughput_within_its_bound(
    quota: float, probe_requests: float
) -> None:
    """8 s throttled at ``quota``, then no limit: >= 90% of a fresh client's rate within
    max(3 s, probe_requests at the last accepted rate)."""
    fresh_rate = await fresh_client_rate()
    limiter = AdaptiveRateLimiter(controller=RateController(probe_requests=probe_requests))
    service = Service(rate=quota, burst=1.0)
    await run_client(limiter, service, "c", 8.0)
    assert limiter.rate < 2 * quota
    service.rate = None
    # The rule's rate: the last one the controller measured as accepted (its w_max).
    bound = recovery_bound(limiter.controller, limiter.controller.w_max)
    assert bound <= recovery_bound(limiter.controller, 0.5 * quota)
    await run_client(limiter, service, "c", bound)
    before = service.accepted["c"]
    await run_client(limiter, service, "c", 0.5)  # the half second after the bound
    assert (service.accepted["c"] - before) / 0.5 >= 0.9 * fresh_rate


@pytest.mark.parametrize("quota", [1.0, 2.0, 5.0, 10.0, 15.0, 40.0])
async def test_probing_a_steady_quota_costs_a_bounded_share_of_requests(quota: float) -> None:
    """With probe_requests=40, under a quota that stays, past the first 10 s, at most 2
    throttles per 40 requests: the plateau up to about 16 req/s, the time-based cycle's
    length (40 requests or more) above."""
    service = Service(rate=quota, burst=5.0)
    limiter = AdaptiveRateLimiter(controller=RateController(probe_requests=40.0))
    await run_client(limiter, service, "c", 10.0, concurrency=16)
    accepted, throttled = service.accepted["c"], service.throttled
    await run_client(limiter, service, "c", 100.0, concurrency=16)
    accepted, throttled = service.accepted["c"] - accepted, service.throttled - throttled
    assert accepted >= 0.95 * 100.0 * quota  # the quota is used, not left idle
    share = throttled / (accepted + throttled)
    assert share <= 2.0 / limiter.controller.probe_requests, (throttled, accepted)


async def test_an_early_throttle_costs_well_under_a_second() -> None:
    """A 50-page listing at 20 ms a page, the 2nd request throttled: < 0.3 s extra."""

    async def listing(throttle_second: bool) -> float:
        limiter = AdaptiveRateLimiter()
        start, pages, n = now(), 0, 0
        while pages < 50:
            permit = await limiter.acquire()
            await asyncio.sleep(0.02)
            n += 1
            throttled = throttle_second and n == 2
            limiter.release(permit, THROTTLED if throttled else ACCEPTED)
            pages += not throttled
        return now() - start

    extra = await listing(True) - await listing(False)
    assert extra < 0.3, extra


async def test_a_throttle_before_any_answer_costs_under_a_second() -> None:
    """The very first answer a throttle (nothing measured yet): < 1 s over 50 pages."""

    async def listing(throttle_first: bool) -> float:
        limiter = AdaptiveRateLimiter()
        start, pages, n = now(), 0, 0
        while pages < 50:
            permit = await limiter.acquire()
            await asyncio.sleep(0.02)
            n += 1
            throttled = throttle_first and n == 1
            limiter.release(permit, THROTTLED if throttled else ACCEPTED)
            pages += not throttled
        return now() - start

    extra = await listing(True) - await listing(False)
    assert extra < 1.0, extra


# -- fairness ----------------------------------------------------------------------------------


async def test_independent_clients_converge_to_fair_shares() -> None:
    """4 clients, own limiter each, one 40 req/s quota: no member starves, each near 10/s."""
    service = Service(rate=40.0, burst=5.0)
    limiters = [AdaptiveRateLimiter() for _ in range(4)]
    # A head start for one member: the others come in against its full rate.
    await run_client(limiters[0], service, "m0", 3.0)
    late = now()
    await asyncio.gather(
        *(run_client(lim, service, f"m{i}", 30.0) for i, lim in enumerate(limiters))
    )
    service.accepted.clear()
    await asyncio.gather(
        *(run_client(lim, service, f"m{i}", 10.0) for i, lim in enumerate(limiters))
    )
    shares = [service.accepted.get(f"m{i}", 0) / 10.0 for i in range(4)]
    assert all(5.0 <= s <= 15.0 for s in shares), shares
    assert sum(shares) >= 0.85 * 40, shares
    assert now() - late >= 40.0


async def test_a_starved_member_takes_its_share_back() -> None:
    """A member cut down to min_rate while the others run full comes back to a fair share."""
    service = Service(rate=40.0, burst=5.0)
    limiters = [AdaptiveRateLimiter() for _ in range(4)]
    starved = limiters[3].controller
    starved.on_throttle(now(), sent_at=now())  # nothing measured: a deep cut
    starved.w_max, starved.k = starved.min_rate, 0.0
    await asyncio.gather(
        *(run_client(lim, service, f"m{i}", 20.0) for i, lim in enumerate(limiters))
    )
    service.accepted.clear()
    await asyncio.gather(
        *(run_client(lim, service, f"m{i}", 10.0) for i, lim in enumerate(limiters))
    )
    assert service.accepted.get("m3", 0) / 10.0 >= 5.0, service.accepted


# -- the shell: token bucket, window, waiters --------------------------------------------------


async def test_sends_are_paced_once_throttled() -> None:
    """Once throttled, sends leave one by one at the controller's rate, none at the cut."""
    limiter = AdaptiveRateLimiter()
    limiter.release(await limiter.acquire(), THROTTLED)
    cut = now()
    times = [await limiter.acquire() for _ in range(5)]
    rate = limiter.controller.rate(cut)
    assert cut < times[0] <= cut + 1 / rate  # the rate only grows from the cut on
    assert all(b > a for a, b in itertools.pairwise(times))


async def _slow_start_rounds(senders: int) -> list[float]:
    """When each of ``senders`` sends left a fresh limiter (each answered 0.1 s later)."""
    limiter = AdaptiveRateLimiter()
    starts: list[float] = []

    async def send() -> None:
        permit = await limiter.acquire()
        starts.append(now())
        await asyncio.sleep(0.1)
        limiter.release(permit, ACCEPTED)

    await asyncio.gather(*(send() for _ in range(senders)))
    return [round(t, 6) for t in starts]  # 0.1 + 0.1 + 0.1 is not 0.3


async def test_slow_start_grows_its_rounds_by_half() -> None:
    """Before any throttle, sends leave in rounds: the initial window, then the last one plus
    half its answers (rounded up)."""
    rounds = await _slow_start_rounds(16)
    # 1 at t=0 (a fleet starting together sends its members' windows at once); each round
    # leaves once the last one is all answered.
    assert [rounds.count(t) for t in (0.0, 0.1, 0.2, 0.3, 0.4)] == [INITIAL_WINDOW, 2, 3, 5, 5]
    assert INITIAL_WINDOW == 1


async def _cold_start(burst: float, rate: float, seed: int, senders: int = 16) -> dict[bool, int]:
    """``senders`` against a service of ``burst`` and ``rate``: the sends made before the
    first cut, accepted (True) and throttled (False)."""
    rng = random.Random(seed)
    service = Service(rate=rate, burst=burst, tokens=burst)
    limiter = AdaptiveRateLimiter()
    cold = {True: 0, False: 0}

    async def sender() -> None:
        while not limiter.enabled:
            permit = await limiter.acquire()
            before_the_cut = not limiter.enabled
            await asyncio.sleep(rng.uniform(0.005, 0.015))
            ok = service.admit("c")
            cold[ok] += before_the_cut
            await asyncio.sleep(rng.uniform(0.005, 0.015))  # answers cross on their way back
            limiter.release(permit, ACCEPTED if ok else THROTTLED)

    await asyncio.gather(*(sender() for _ in range(senders)))
    return cold


async def test_a_cold_start_against_a_small_burst_throttles_once() -> None:
    """16 senders, a burst of 5 at 2 req/s: rounds of 1, 2, 3; the 3's overshoot (1) is the
    only throttle, the floor (a throttle is the only sign the burst is spent); rounds that
    double (1, 2, 4) threw 2. No send leaves while a throttle is on its way back."""
    assert await _cold_start(5.0, 2.0, seed=7) == {True: 5, False: 1}


async def test_a_cold_start_throws_about_half_what_doubling_rounds_did_at_any_burst() -> None:
    """64 senders, bursts of 1 to 40 (a service that barely refills): 7.0 throttles on
    average, at most 18 (rounds that double, with no round of one after a stray throttle:
    14.1 and 32); each burst's every send accounted for."""
    throttles = []
    for burst in range(1, 41):
        cold = await _cold_start(float(burst), 0.001, seed=burst, senders=64)
        assert cold[True] == burst, (burst, cold)
        throttles.append(cold[False])
    assert sum(throttles) / len(throttles) <= 7.5, throttles
    assert max(throttles) <= 18, throttles


@pytest.mark.parametrize(("burst", "most"), [(10.0, 2), (30.0, 4)])
async def test_a_spent_burst_taken_for_a_stray_throttle_is_told_by_one_send(
    burst: float, most: int
) -> None:
    """A round that spends the burst with one throttle among many answers (1 + 2 + 3 + 5 =
    11 sends against 10) is not a cut (a stray throttle): the next round is one send, and
    its throttle counts towards the cut, where the next whole round (8) was thrown."""
    cold = await _cold_start(burst, 0.001, seed=3, senders=64)
    assert cold[True] == burst
    assert cold[False] <= most, cold


async def test_a_stray_throttle_in_the_slow_start_costs_one_round_of_one_send() -> None:
    """A random throttle, the last answer of the 5th round (8 sends): the next round is one
    send; once it is answered the rounds go on from the window (8), not from the first one."""
    limiter = AdaptiveRateLimiter()
    starts: list[float] = []

    async def send(i: int) -> None:
        permit = await limiter.acquire()
        starts.append(round(now(), 6))
        await asyncio.sleep(0.15 if i == 18 else 0.1)  # answered after the round's others
        limiter.release(permit, THROTTLED if i == 18 else ACCEPTED)

    await asyncio.gather(*(send(i) for i in range(40)))
    assert not limiter.enabled  # one throttle among 19 answers: stray
    rounds = [0.0, 0.1, 0.2, 0.3, 0.4, 0.55, 0.65, 0.75]
    assert [starts.count(t) for t in rounds] == [1, 2, 3, 5, 8, 1, 8, 12]


async def test_throttles_while_pacing_leave_the_slow_start_s_rounds_as_they_were() -> None:
    """A cut in the 2nd round, a throttle of the same event after it: once quiet, the slow
    start goes on with rounds of 2 then 3, not with a round of one (that is for a throttle
    the controller took for a stray one while off)."""
    limiter = AdaptiveRateLimiter()
    starts: list[float] = []

    async def send(outcome: SendOutcome) -> None:
        permit = await limiter.acquire()
        starts.append(round(now(), 6))
        await asyncio.sleep(0.1)
        limiter.release(permit, outcome)

    await send(ACCEPTED)
    await asyncio.gather(send(THROTTLED), send(THROTTLED))  # the cut, then its own event's
    assert limiter.enabled
    await asyncio.sleep(limiter.controller.quiet + 1.0)
    starts.clear()
    await asyncio.gather(*(send(ACCEPTED) for _ in range(5)))
    assert not limiter.enabled
    first = starts[0]
    assert [round(t - first, 6) for t in starts] == [0.0, 0.0, 0.1, 0.1, 0.1]


async def test_the_slow_start_ends_once_a_round_may_send_32() -> None:
    """Rounds of 1, 2, 3, 5, ... 27 (76 sends); from then on nothing waits for a round's
    answers."""
    rounds = await _slow_start_rounds(200)
    sizes = [1, 2, 3, 5, 8, 12, 18, 27]
    assert [rounds.count(r / 10) for r in range(9)] == [*sizes, 200 - sum(sizes)]


async def test_an_abandoned_send_frees_its_place_in_the_window() -> None:
    """A send with no answer gives its place back but does not widen the window."""
    limiter = AdaptiveRateLimiter(initial_window=1)
    permit = await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(1.0)
    assert not waiting.done()
    limiter.release(permit, SendOutcome.ABANDONED)
    assert await waiting == now()
    assert limiter.in_flight == 1


async def test_waiters_are_served_first_come_first_served() -> None:
    """Waiters get their slots in the order they asked."""
    limiter = AdaptiveRateLimiter()
    limiter.release(await limiter.acquire(), THROTTLED)
    order: list[int] = []

    async def waiter(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    await asyncio.gather(*(waiter(i) for i in range(8)))
    assert order == list(range(8))


async def served(cancel: int | None) -> list[float]:
    """When three waiters are served, with waiter ``cancel`` cancelled while waiting."""
    limiter = AdaptiveRateLimiter()
    limiter.release(await limiter.acquire(), THROTTLED)
    cut = now()
    tasks = [asyncio.ensure_future(limiter.acquire()) for _ in range(3)]
    await FakeTime().advance(0.0)  # all three wait, the first one for a token
    if cancel is not None:
        tasks[cancel].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [task.result() - cut for task in tasks if not task.cancelled()]


async def test_cancelling_the_head_waiter_passes_its_turn_on() -> None:
    """A cancelled head takes no token: the next waiter is served when it would have been."""
    assert await served(cancel=0) == pytest.approx((await served(cancel=None))[:2])


async def test_cancelling_a_queued_waiter_leaves_the_others_on_time() -> None:
    """A waiter cancelled in the line disappears; the others keep their slots."""
    assert await served(cancel=1) == pytest.approx((await served(cancel=None))[:2])


async def test_a_waiter_cancelled_just_as_its_turn_came_passes_it_on() -> None:
    """Cancelled after being handed the turn but before running, a waiter hands it on."""
    limiter = AdaptiveRateLimiter()
    limiter.release(await limiter.acquire(), THROTTLED)
    tasks: list[asyncio.Future[float]] = []

    async def first() -> float:
        sent_at = await limiter.acquire()
        tasks[1].cancel()  # the second waiter was just handed the turn, and has not run yet
        return sent_at

    tasks.append(asyncio.ensure_future(first()))
    tasks.extend(asyncio.ensure_future(limiter.acquire()) for _ in range(2))
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[1].cancelled()
    assert tasks[2].result() > tasks[0].result()


async def test_cancelled_waiters_leave_nothing_behind() -> None:
    """After every waiter is cancelled, a later send after a pause leaves at once."""
    limiter = AdaptiveRateLimiter()
    limiter.release(await limiter.acquire(), THROTTLED)
    tasks = [asyncio.ensure_future(limiter.acquire()) for _ in range(5)]
    await FakeTime().advance(0.0)
    for task in tasks:
        task.cancel()
    await asyncio.sleep(1.0)
    assert all(task.cancelled() for task in tasks)
    assert await limiter.acquire() == now()
    assert limiter.in_flight == 1


async def test_testing_mode_removes_every_pacing_wait() -> None:
    """With set_testing() a throttled limiter lets everything through at once."""
    limiter = AdaptiveRateLimiter(initial_window=1)
    limiter.release(await limiter.acquire(), THROTTLED)
    with set_testing():
        permits = [await limiter.acquire() for _ in range(100)]
    assert set(permits) == {0.0}
    assert limiter.enabled


def test_the_default_limiter_is_a_rate_limiter() -> None:
    """AdaptiveRateLimiter satisfies the public RateLimiter protocol."""
    assert isinstance(AdaptiveRateLimiter(), RateLimiter)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"burst": 0.5}, "burst must be at least 1 (one send), not 0.5"),
        ({"burst": float("inf")}, "burst must be a positive number of sends, not inf"),
        ({"burst": "5"}, "burst must be a number of sends, not str"),
        ({"initial_window": 0}, "initial_window must be an int of at least 1, not 0"),
        ({"initial_window": 2.5}, "initial_window must be an int of at least 1, not 2.5"),
    ],
    ids=repr,
)
def test_invalid_settings_are_rejected_in_words(kwargs: dict[str, object], message: str) -> None:
    """Settings that make no sense fail at construction, a ValidationError naming the
    setting, what it must be and what it was."""
    with pytest.raises(ValidationError) as caught:
        AdaptiveRateLimiter(**kwargs)  # type: ignore[arg-type]
    assert caught.value.message == message


# -- the target scenario, through the Sender ---------------------------------------------------


@pytest.mark.parametrize("latency", [0.002, 0.01, 0.03])
@pytest.mark.parametrize("seed", [1, 2])
async def test_target_scenario_settles_near_the_service_rate(latency: float, seed: int) -> None:
    """16 in flight against 40/s (burst 5), 20 KBs x 6 pages: <= 10% throttled, <= 1.3x ideal."""
    service = Service(rate=40.0, burst=5.0)
    rng = random.Random(seed)
    await list_kbs(
        service, "c", RateController(), kbs=20, pages=6, width=16, rng=rng, latency=latency
    )
    ideal = (120 - 5) / 40.0
    assert service.accepted["c"] == 120
    assert service.throttled / (120 + service.throttled) <= 0.10
    assert now() <= 1.3 * ideal


# -- expected_wait: what max_rate_wait asks ---------------------------------------------------


def steady(rate: float) -> AdaptiveRateLimiter:
    """A limiter pacing steadily at ``rate`` from now (no growth, no quiet period)."""
    control = RateController(scale=1e-12, hold=1e9, quiet=1e9, min_rate=0.1)
    control.pace_at(now(), rate)
    return AdaptiveRateLimiter(controller=control)


async def test_no_wait_is_expected_while_not_pacing_or_in_testing_mode() -> None:
    """Unpaced, or in testing mode (no pacing waits), any number of sends may leave now."""
    assert AdaptiveRateLimiter().expected_wait(5) == 0.0
    limiter = steady(1.0)
    assert limiter.expected_wait(5) > 0.0
    with set_testing(True):
        assert limiter.expected_wait(5) == 0.0


async def test_the_expected_wait_counts_the_tokens_refilled_at_the_rate() -> None:
    """At 10 sends/s, 0.05 s after the bucket's token was spent half a token is back: three
    sends are 2.5 tokens, 0.25 s, away; with a full bucket one send waits nothing."""
    ft = FakeTime()
    await ft.advance(1.0)  # a clock away from 0, as a loop's is
    limiter = steady(10.0)
    assert limiter.expected_wait(1) == 0.0  # the bucket's one token
    permit = await limiter.acquire()
    limiter.release(permit, ACCEPTED)
    await ft.advance(0.05)
    assert limiter.expected_wait(3) == pytest.approx(0.25)


def serving(
    limiter: AdaptiveRateLimiter, served: list[str]
) -> Callable[[int, str], Awaitable[None]]:
    """A send through ``limiter`` at a priority that notes its name in ``served`` once let go."""

    async def send(priority: int, name: str) -> None:
        permit = await limiter.acquire(priority=priority)
        served.append(name)
        limiter.release(permit, ACCEPTED)

    return send


async def test_bulk_keeps_one_turn_in_five_at_a_pacing_limiter() -> None:
    """At a paced limiter with ten interactive and two bulk sends waiting, a bulk send goes
    within every five: interactive first, never bulk starved behind all of them."""
    ft = FakeTime()
    served: list[str] = []
    send = serving(steady(10.0), served)
    await send(0, "first")  # spends the bucket's token: the rest wait in line
    waiting = [asyncio.ensure_future(send(1, f"bulk-{i}")) for i in range(2)]
    waiting += [asyncio.ensure_future(send(0, f"interactive-{i}")) for i in range(10)]
    await ft.run(asyncio.gather(*waiting))
    order = served[1:]
    assert order.index("bulk-0") <= 4
    assert order.index("bulk-1") - order.index("bulk-0") <= 5
    assert order[0].startswith("interactive")


async def test_the_first_round_sends_the_whole_initial_window() -> None:
    """initial_window=4: four sends leave at once, the next round (six) once all four are
    answered (each 0.1 s later)."""
    limiter = AdaptiveRateLimiter(initial_window=4)
    starts: list[float] = []

    async def send() -> None:
        permit = await limiter.acquire()
        starts.append(round(now(), 6))
        await asyncio.sleep(0.1)
        limiter.release(permit, ACCEPTED)

    await asyncio.gather(*(send() for _ in range(12)))
    assert starts == [0.0] * 4 + [0.1] * 6 + [0.2] * 2


async def test_a_send_freed_goes_to_the_head_waiter_not_to_a_newcomer() -> None:
    """A release that ends a slow-start round wakes the waiter at the head of the line; an
    acquire that comes in before that waiter has run joins the line behind it."""
    limiter = AdaptiveRateLimiter()  # a first round of one send
    permit = await limiter.acquire()
    order: list[str] = []

    async def waiting() -> None:
        await limiter.acquire()
        order.append("waiting")

    task = asyncio.ensure_future(waiting())
    await asyncio.sleep(0)  # it waits for the round's answer
    limiter.release(permit, ACCEPTED)
    await limiter.acquire()
    order.append("newcomer")
    await task
    assert order == ["waiting", "newcomer"]


async def test_a_full_bucket_lets_burst_sends_leave_back_to_back() -> None:
    """burst=3 at 10 sends/s: three sends leave at once from the full bucket, each taking
    one token; the fourth leaves a token (0.1 s) later."""
    control = RateController(scale=1e-12, hold=1e9, quiet=1e9, min_rate=0.1)
    control.pace_at(now(), 10.0)
    limiter = AdaptiveRateLimiter(controller=control, burst=3)
    start = now()
    assert [await limiter.acquire() - start for _ in range(4)] == pytest.approx(
        [0.0, 0.0, 0.0, 0.1]
    )


async def test_interactive_waiters_cancelled_are_not_turns_taken_from_bulk() -> None:
    """Bulk waits for four interactive sends served (its share rule), not counting the
    interactive waiters cancelled before their turn."""
    ft = FakeTime()
    served: list[str] = []
    send = serving(steady(10.0), served)
    await send(0, "first")  # spends the bucket's token: the rest wait in line
    bulk = asyncio.ensure_future(send(1, "bulk"))
    interactive = [asyncio.ensure_future(send(0, f"interactive-{i}")) for i in range(8)]
    await ft.advance(0.0)  # all wait, the head for a token
    for task in interactive[:2]:
        task.cancel()
    await ft.run(asyncio.gather(bulk, *interactive, return_exceptions=True))
    assert served[1:6] == [
        "interactive-2",
        "interactive-3",
        "interactive-4",
        "interactive-5",
        "bulk",
    ]

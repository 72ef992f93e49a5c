"""Interactive first: the line at the client's slots and at its rate limiter, and bulk's share.

Every test runs on the fake clock (FakeClockLoop): the limiter paces on the loop's clock and
the attempts take fake time, so orders and shares are exact, never raced against the wall.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from _fake_time import FakeTime
from qconnect_async import AdaptiveRateLimiter, RateController, SendOutcome
from qconnect_async._call import BULK, INTERACTIVE, Call
from qconnect_async._config import set_testing
from qconnect_async._line import BULK_SHARE, PriorityLine, PrioritySlots
from qconnect_async._retry import RetryPolicy
from qconnect_async._send import Sender

pytestmark = pytest.mark.fake_clock


@pytest.fixture(autouse=True)
def _pacing_on() -> Iterator[None]:
    """These tests measure pacing: testing mode off."""
    with set_testing(False):
        yield


def paced(rate: float) -> AdaptiveRateLimiter:
    """A limiter pacing at a steady ``rate`` sends/s from now on (no growth, never quiet)."""
    control = RateController(scale=1e-12, hold=1e9, quiet=1e9)
    limiter = AdaptiveRateLimiter(controller=control)
    now = asyncio.get_running_loop().time()
    control.pace_at(now, rate)
    assert control.enabled and control.rate(now + 100) == pytest.approx(rate)
    return limiter


class Recorder:
    """An attempt that takes ``duration`` and notes who was sent when."""

    def __init__(self, ft: FakeTime, duration: float = 0.0) -> None:
        self.ft = ft
        self.duration = duration
        self.sent: list[tuple[str, float]] = []

    def attempt(self, name: str) -> Any:
        async def run() -> str:
            self.sent.append((name, self.ft.now))
            await asyncio.sleep(self.duration)
            return name

        return run


def test_interactive_waiters_go_first_and_each_priority_is_first_come_first_served() -> None:
    """The line serves every waiting interactive before waiting bulk ones, each in arrival."""
    line: PriorityLine[str] = PriorityLine()
    for priority, name in [(BULK, "b1"), (INTERACTIVE, "i1"), (BULK, "b2"), (INTERACTIVE, "i2")]:
        line.append(priority, name)
    served = []
    while (turn := line.first()) is not None:
        line.remove(*turn, served=True)
        served.append(turn[1])
    assert served == ["i1", "i2", "b1", "b2"]


def test_bulk_gets_one_turn_after_bulk_share_interactive_turns_in_a_row() -> None:
    """Under a line never short of interactive waiters, every fifth turn is bulk's."""
    line: PriorityLine[str] = PriorityLine()
    for n in range(3):
        line.append(BULK, f"b{n}")
    served = []
    for n in range(3 * (BULK_SHARE + 1)):
        line.append(INTERACTIVE, f"i{n}")  # always more interactive work waiting
        turn = line.first()
        assert turn is not None
        line.remove(*turn, served=True)
        served.append(turn[1])
    bulk_turns = [i for i, name in enumerate(served) if name.startswith("b")]
    assert bulk_turns == [BULK_SHARE, 2 * BULK_SHARE + 1, 3 * BULK_SHARE + 2]


async def test_a_freed_slot_goes_to_the_waiting_interactive_request_first() -> None:
    """PrioritySlots hands a released slot to an interactive waiter before older bulk ones."""
    slots = PrioritySlots(1)
    await slots.acquire(BULK)
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)
        slots.release()

    tasks = [asyncio.create_task(take("b1", BULK)), asyncio.create_task(take("b2", BULK))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("i1", INTERACTIVE)))
    await asyncio.sleep(0)
    assert slots.waiting(BULK) == 2 and slots.waiting(INTERACTIVE) == 1
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["i1", "b1", "b2"]


async def test_a_cancelled_slot_waiter_loses_no_slot() -> None:
    """A waiter cancelled in the line, or just after being handed a slot, passes it on."""
    slots = PrioritySlots(1)
    await slots.acquire(INTERACTIVE)
    first = asyncio.create_task(slots.acquire(INTERACTIVE))
    second = asyncio.create_task(slots.acquire(BULK))
    await asyncio.sleep(0)
    slots.release()  # handed to `first`, which is cancelled before it runs
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1.0)  # the slot went on to the next waiter
    slots.release()
    await asyncio.wait_for(slots.acquire(BULK), 1.0)  # and came back free


async def test_a_release_right_after_a_waiter_is_cancelled_skips_it() -> None:
    """A waiter cancelled just before a release (its task not resumed yet) is skipped: the
    slot goes to the next waiter, and the cancelled one leaves without an error."""
    slots = PrioritySlots(1)
    await slots.acquire(INTERACTIVE)
    cancelled = asyncio.create_task(slots.acquire(INTERACTIVE))
    waiting = asyncio.create_task(slots.acquire(BULK))
    await asyncio.sleep(0)
    cancelled.cancel()
    slots.release()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(waiting, 1.0)
    assert slots.free == 0 and slots.waiting(INTERACTIVE) == slots.waiting(BULK) == 0


async def test_a_released_slot_is_one_slot_again() -> None:
    """Acquire and release leave the slots as they were: one free, no more."""
    slots = PrioritySlots(1)
    await slots.acquire(BULK)
    slots.release()
    assert slots.free == 1


async def test_interactive_waiters_cancelled_before_a_release_take_no_turn_from_bulk() -> None:
    """Waiters cancelled before the release that skips them were not served: they count
    nothing toward bulk's share, and the slot goes to the interactive request still waiting."""
    slots = PrioritySlots(1)
    await slots.acquire(INTERACTIVE)
    bulk = asyncio.create_task(slots.acquire(BULK))
    cancelled = [asyncio.create_task(slots.acquire(INTERACTIVE)) for _ in range(BULK_SHARE)]
    waiting = asyncio.create_task(slots.acquire(INTERACTIVE))
    await asyncio.sleep(0)
    for task in cancelled:
        task.cancel()
    slots.release()
    await asyncio.gather(*cancelled, return_exceptions=True)
    await asyncio.wait_for(waiting, 1.0)
    assert not bulk.done()
    slots.release()
    await asyncio.wait_for(bulk, 1.0)


async def test_a_waiter_at_the_front_is_served_before_its_prioritys_older_waiters() -> None:
    """``acquire(front=True)`` joins the head of its line: the next slot is its."""
    slots = PrioritySlots(1)
    await slots.acquire(BULK)
    order: list[str] = []

    async def take(name: str, *, front: bool = False) -> None:
        await slots.acquire(BULK, front=front)
        order.append(name)
        slots.release()

    tasks = [asyncio.create_task(take("b1")), asyncio.create_task(take("b2"))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("again", front=True)))
    await asyncio.sleep(0)
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["again", "b1", "b2"]


async def test_bulks_share_turn_says_so_even_with_one_interactive_request_passed_over() -> None:
    """After BULK_SHARE interactive turns in a row, the slot goes to bulk as its share turn
    (``acquire`` answers True) when a single interactive request is left waiting too."""
    slots = PrioritySlots(1)
    await slots.acquire(INTERACTIVE)
    bulk = asyncio.create_task(slots.acquire(BULK))
    interactive = [asyncio.create_task(slots.acquire(INTERACTIVE)) for _ in range(BULK_SHARE + 1)]
    await asyncio.sleep(0)
    for task in interactive[:BULK_SHARE]:
        slots.release()
        assert await asyncio.wait_for(task, 1.0) is False
    assert slots.waiting(INTERACTIVE) == 1
    slots.release()
    assert await asyncio.wait_for(bulk, 1.0) is True
    slots.release()
    assert await asyncio.wait_for(interactive[-1], 1.0) is False


async def test_the_paced_limiter_lets_a_waiting_interactive_request_go_next() -> None:
    """At 10 sends/s with bulk requests waiting, an interactive one takes the next token."""
    ft = FakeTime()
    limiter = paced(10.0)
    sent: list[tuple[str, float]] = []

    async def one(name: str, priority: int) -> None:
        permit = await limiter.acquire(priority=priority)
        sent.append((name, ft.now))
        limiter.release(permit, SendOutcome.ACCEPTED)

    bulk = [asyncio.create_task(one(f"b{n}", BULK)) for n in range(6)]
    await asyncio.sleep(0.25)  # two or three bulk sends have left
    left = len(sent)
    interactive = asyncio.create_task(one("i", INTERACTIVE))
    await asyncio.gather(*bulk, interactive)
    assert sent[left][0] == "i"
    assert sent[left][1] - 0.25 <= 0.1 + 1e-9  # within one token's interval


async def test_interactive_requests_overtake_bulk_at_the_slots_and_the_limiter() -> None:
    """Through a Sender (8 slots, 10 sends/s, 0.3 s answers) saturated by bulk, an interactive
    call is sent at the next token: a bulk request still waiting for the limiter gives it its
    slot, so it waits neither for the bulk line nor for a bulk answer."""
    ft = FakeTime()
    sender = Sender(policy=RetryPolicy(), limiter=paced(10.0), max_concurrency=8)
    rec = Recorder(ft, duration=0.3)
    bulk = [
        asyncio.create_task(sender.send(Call("ListImportJobs", priority=BULK), rec.attempt("b")))
        for _ in range(40)
    ]
    await asyncio.sleep(1.05)
    asked = ft.now
    await sender.send(Call("ListImportJobs"), rec.attempt("i"))
    await asyncio.gather(*bulk)
    [sent_at] = [at for name, at in rec.sent if name == "i"]
    assert sent_at - asked <= 0.1 + 1e-9  # the next token
    assert [name for name, _ in rec.sent].index("i") < len(rec.sent) - 25  # bulk still queued
    assert len(rec.sent) == 41 and sender.in_flight == 0


async def test_no_more_requests_in_flight_than_slots_while_bulk_gives_way() -> None:
    """Interactive requests taking slots from bulk ones never push the sends in flight past
    max_concurrency, and every request of both kinds is sent once."""
    FakeTime()  # the fake clock loop is required
    sender = Sender(policy=RetryPolicy(), limiter=paced(50.0), max_concurrency=3)
    most = 0

    def attempt(name: str) -> Any:
        async def run() -> str:
            nonlocal most
            most = max(most, sender.in_flight)
            await asyncio.sleep(0.2)
            return name

        return run

    bulk = [
        asyncio.create_task(sender.send(Call("ListImportJobs", priority=BULK), attempt(f"b{n}")))
        for n in range(30)
    ]
    interactive = []
    for n in range(10):
        await asyncio.sleep(0.05)
        interactive.append(asyncio.create_task(sender.send(Call("GetImportJob"), attempt(f"i{n}"))))
    done = await asyncio.gather(*bulk, *interactive)
    assert sorted(done) == sorted([f"b{n}" for n in range(30)] + [f"i{n}" for n in range(10)])
    assert most == 3


async def test_a_bulk_listing_still_finishes_under_constant_interactive_load() -> None:
    """Interactive callers that never stop cannot starve bulk: each bulk page waits at most
    BULK_SHARE interactive turns at the slots, then the sends of the slots ahead of it."""
    ft = FakeTime()
    sender = Sender(policy=RetryPolicy(), limiter=paced(10.0), max_concurrency=2)
    rec = Recorder(ft, duration=0.01)
    stop = asyncio.Event()

    async def interactive_caller() -> None:
        while not stop.is_set():
            await sender.send(Call("GetImportJob"), rec.attempt("i"))

    callers = [asyncio.create_task(interactive_caller()) for _ in range(6)]
    await asyncio.sleep(0.5)
    started = ft.now
    for page in range(20):  # one bulk listing: 20 pages, one after another
        await sender.send(Call("ListImportJobs", priority=BULK), rec.attempt(f"b{page}"))
    took = ft.now - started
    stop.set()
    await asyncio.gather(*callers)
    # Each page: at most BULK_SHARE + max_concurrency sends before its own, at 10 sends/s.
    assert took <= 20 * (BULK_SHARE + 2 + 1) / 10.0
    during = [name for name, at in rec.sent if started <= at <= started + took]
    assert sum(name.startswith("b") for name in during) == 20
    assert sum(name == "i" for name in during) >= 20 * (BULK_SHARE - 1)  # interactive first


class FifoLimiter:
    """A third-party limiter with the plain protocol: acquire() takes no keyword."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> int:
        self.acquired += 1
        return self.acquired

    def release(self, permit: int, outcome: SendOutcome) -> None:
        pass

    @property
    def rate(self) -> float:
        return float("inf")


class KeywordLimiter(FifoLimiter):
    """A third-party limiter that takes any keyword: it is told the priority."""

    def __init__(self) -> None:
        super().__init__()
        self.priorities: list[int] = []

    async def acquire(self, **options: Any) -> int:  # type: ignore[override]
        self.priorities.append(options["priority"])
        return await super().acquire()


class WeightLimiter(FifoLimiter):
    """A third-party limiter whose acquire() takes a keyword of its own, not ``priority``."""

    async def acquire(self, weight: int = 1) -> int:  # type: ignore[override]
        return await super().acquire()


class _Unreadable:
    """A callable whose signature cannot be read (``inspect.signature`` raises)."""

    __signature__ = 42  # not a Signature: inspect refuses it

    def __init__(self, limiter: FifoLimiter) -> None:
        self._limiter = limiter

    async def __call__(self) -> int:
        return await FifoLimiter.acquire(self._limiter)


class UnreadableLimiter(FifoLimiter):
    """A third-party limiter whose acquire's signature cannot be inspected."""

    def __init__(self) -> None:
        super().__init__()
        self.acquire = _Unreadable(self)  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "make", [FifoLimiter, WeightLimiter, UnreadableLimiter], ids=["none", "other", "unreadable"]
)
async def test_a_limiter_without_the_priority_keyword_keeps_working(
    make: type[FifoLimiter],
) -> None:
    """A limiter whose acquire() takes no keyword, keywords of its own only, or whose signature
    cannot be read is called without ``priority``, for any priority."""
    ft = FakeTime()
    limiter = make()
    sender = Sender(policy=RetryPolicy(), limiter=limiter, max_concurrency=2)
    rec = Recorder(ft)
    for priority in (INTERACTIVE, BULK):
        assert await sender.send(Call("GetImportJob", priority=priority), rec.attempt("x")) == "x"
    assert limiter.acquired == 2


async def test_a_limiter_that_declares_the_keyword_is_told_each_priority() -> None:
    """A limiter taking ``priority`` (or any keyword) receives each call's priority."""
    ft = FakeTime()
    limiter = KeywordLimiter()
    sender = Sender(policy=RetryPolicy(), limiter=limiter, max_concurrency=2)
    rec = Recorder(ft)
    for priority in (INTERACTIVE, BULK, INTERACTIVE):
        await sender.send(Call("GetImportJob", priority=priority), rec.attempt("x"))
    assert limiter.priorities == [INTERACTIVE, BULK, INTERACTIVE]

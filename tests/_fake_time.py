"""One fake clock for asyncio tests: the event loop's own, as aiolimiter's tests do.

`FakeClockLoop.time()` is fake. When nothing is ready to run, instead of blocking until the
next timer the loop jumps its clock to it: `asyncio.sleep`, `call_later`, `asyncio.timeout`
and everything built on `loop.time()` see time pass, in order, without any real wait.
Tests marked `@pytest.mark.fake_clock` (or whose module sets `pytestmark`) run on it.

Real I/O still works (a ready socket is served first), but a test waiting on real I/O with
a timer pending would jump the clock to that timer: fake-clock tests do no network I/O.
`FakeTime` is a small view on the running loop's clock for tests written against a clock
object (``ft.now``, ``ft.sleep``, ``ft.run``).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

# Real seconds a fake-clock loop with no timer waits for real I/O before calling it a deadlock.
_DEADLOCK_AFTER = 5.0


class _JumpingSelector(selectors.DefaultSelector):
    """Polls for real I/O; where the loop would block until a timer, jumps the clock to it."""

    def __init__(self, loop: FakeClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            # Nothing scheduled and nothing ready: only real I/O (or another thread) can
            # wake the loop up, and a fake-clock test has neither: a deadlock, say so.
            events = super().select(_DEADLOCK_AFTER)
            if not events:
                raise RuntimeError("deadlock: every task waits and no timer is set")
            return events
        self._loop.jump(timeout)
        return []


class FakeClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock starts at 0 and moves only to the next due timer."""

    def __init__(self) -> None:
        self._fake_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._fake_now

    def jump(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (timers due by then run next)."""
        self._fake_now += max(0.0, seconds)


def loop_clock() -> FakeClockLoop:
    """The running loop, which must be a FakeClockLoop (mark the test ``fake_clock``)."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, FakeClockLoop):
        raise RuntimeError("this test needs the fake clock: mark it @pytest.mark.fake_clock")
    return loop


class FakeTime:
    """A view on the running FakeClockLoop's clock, for tests that pass a clock around."""

    def __init__(self) -> None:
        self._loop = loop_clock()
        self.sleeps: list[float] = []  # every delay given to sleep(), in order

    @property
    def now(self) -> float:
        return self._loop.time()

    @now.setter
    def now(self, value: float) -> None:
        self._loop.jump(value - self._loop.time())

    def clock(self) -> float:
        return self._loop.time()

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(delay)

    async def advance(self, seconds: float) -> None:
        """Let every task run while the clock moves by ``seconds``, then until all wait."""
        await asyncio.sleep(seconds)
        # Yield until no callback is ready: then every task waits on a timer or a future.
        while self._loop._ready:  # type: ignore[attr-defined]  # noqa: ASYNC110
            await asyncio.sleep(0)

    async def run(self, aw: Awaitable[T]) -> T:
        """Drive ``aw`` to its end; the clock jumps from timer to timer meanwhile."""
        return await aw

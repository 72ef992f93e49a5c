"""A fake clock for asyncio tests: time moves only when every task waits."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class FakeTime:
    """A clock that moves only when every task waits: sleep() parks a task until its time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, delay), next(self._seq), fut))
        await fut

    async def _settle(self) -> None:
        # Let every runnable callback run: then all tasks wait on a timer or a future.
        loop = asyncio.get_running_loop()
        while True:
            if not loop._ready:  # type: ignore[attr-defined]
                return
            await asyncio.sleep(0)

    def _next_due(self) -> float | None:
        while self._timers and self._timers[0][2].done():  # sleepers that were cancelled
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def _wake_next(self) -> None:
        when, _, fut = heapq.heappop(self._timers)
        self.now = max(self.now, when)
        fut.set_result(None)

    async def advance(self, seconds: float) -> None:
        """Move the clock by ``seconds``, waking every sleeper due on the way, in order."""
        until = self.now + seconds
        await self._settle()
        while (due := self._next_due()) is not None and due <= until:
            self._wake_next()
            await self._settle()
        self.now = until

    async def run(self, aw: Awaitable[T]) -> T:
        """Drive ``aw`` to its end, jumping the clock from wake-up to wake-up."""
        task = asyncio.ensure_future(aw)
        while True:
            await self._settle()
            if task.done():
                return task.result()
            if self._next_due() is None:
                raise AssertionError("deadlock: every task waits and no timer is set")
            self._wake_next()

"""The line of waiters at a client's concurrency slots and at its rate limiter: interactive first.

Work is interactive (single calls, one-KB listings) or bulk (the fan-outs). A waiting
interactive request goes before every waiting bulk one, with one exception that keeps bulk
from starving: while both wait, at most ``BULK_SHARE`` interactive requests are served in a
row, then the oldest bulk one. A bulk request given a slot as its share turn goes on to the
rate limiter as interactive (first come, first served among them), so the two stages do not
compound. Hence no bulk request starves: it waits at most ``BULK_SHARE`` interactive turns
at the slots, then for the sends of the slots held before it (``max_concurrency``); a
fan-out with requests always waiting gets at least one slot in ``BULK_SHARE + 1``; with no
interactive request waiting, bulk gets every turn. Within a priority, first come, first
served.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from ._call import BULK, INTERACTIVE

__all__ = ["BULK_SHARE", "PriorityLine", "PrioritySlots"]

#: Interactive requests served in a row, while bulk ones wait, before a bulk one's turn.
BULK_SHARE = 4

W = TypeVar("W")


class PriorityLine(Generic[W]):
    """Waiters in two first-come-first-served lines; ``first()`` says whose turn it is."""

    __slots__ = ("_lines", "_run")

    def __init__(self) -> None:
        self._lines: tuple[deque[W], deque[W]] = (deque(), deque())
        self._run = 0  # interactive turns in a row while bulk waited

    def __len__(self) -> int:
        return len(self._lines[INTERACTIVE]) + len(self._lines[BULK])

    def waiting(self, priority: int) -> int:
        """How many wait at ``priority``."""
        return len(self._lines[priority])

    def append(self, priority: int, waiter: W, *, front: bool = False) -> None:
        """``waiter`` joins the end of its priority's line (or its head: ``front``)."""
        if front:
            self._lines[priority].appendleft(waiter)
        else:
            self._lines[priority].append(waiter)

    def first(self) -> tuple[int, W] | None:
        """The priority and waiter whose turn it is (None: nobody waits)."""
        interactive, bulk = self._lines
        if interactive and (not bulk or self._run < BULK_SHARE):
            return INTERACTIVE, interactive[0]
        return (BULK, bulk[0]) if bulk else None

    def remove(self, priority: int, waiter: W, *, served: bool) -> None:
        """``waiter`` leaves its line: ``served`` (its turn counts) or given up (if still in it)."""
        if not served and waiter not in self._lines[priority]:
            return
        self._lines[priority].remove(waiter)
        if not served:
            return
        if priority == BULK or not self._lines[BULK]:
            self._run = 0
        else:
            self._run += 1


class PrioritySlots:
    """A semaphore whose waiters are served by ``PriorityLine``'s rule."""

    __slots__ = ("_free", "_line")

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._line: PriorityLine[asyncio.Future[bool]] = PriorityLine()

    def waiting(self, priority: int) -> int:
        """Requests waiting for a slot at ``priority``."""
        return self._line.waiting(priority)

    @property
    def free(self) -> int:
        """Slots no one holds."""
        return self._free

    async def acquire(self, priority: int = INTERACTIVE, *, front: bool = False) -> bool:
        """Wait for a slot; every acquire is matched by one ``release()``.

        True when the slot came as bulk's share turn (interactive waiters were passed over):
        the request should not wait behind interactive ones again at the next stage.
        ``front``: join the head of its priority's line (a request that gave its slot away).
        """
        if self._free > 0 and not self._line:
            self._free -= 1
            return False
        granted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._line.append(priority, granted, front=front)
        try:
            return await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            else:
                self._line.remove(priority, granted, served=False)
            raise

    def release(self) -> None:
        """Give a slot back: to the waiter whose turn it is, or to the free ones."""
        while (turn := self._line.first()) is not None:
            priority, granted = turn
            if granted.done():  # cancelled, its task not resumed yet: it takes no slot
                self._line.remove(priority, granted, served=False)
                continue
            share_turn = priority == BULK and self._line.waiting(INTERACTIVE) > 0
            self._line.remove(priority, granted, served=True)
            granted.set_result(share_turn)  # the slot passes to it directly
            return
        self._free += 1

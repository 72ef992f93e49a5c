"""The clients of a QConnectRouter: one per (account, Region), opened on first use, LRU-bounded.

Invariants:
- one client per pair at a time is opened: concurrent first uses await the same open, which
  a cancelled user cannot cancel for the others;
- at most ``max_clients`` clients are kept; past that the least recently used one goes, closed
  at once when no call of it is in flight, else when its last call ends (a new use of its pair
  meanwhile opens a new client: the send rate, kept by the router per pair, is the same);
- a failed open is not kept: the next use opens again;
- ``close()`` closes every client, the ones opening included.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from ._client import QConnectClient

__all__ = ["ClientPool", "Place"]

#: An AWS account and Region: where a knowledge base lives, what a client serves.
Place = tuple[str, str]


class _Entry:
    __slots__ = ("evicted", "opened", "users")

    def __init__(self, opened: asyncio.Task[QConnectClient]) -> None:
        self.opened = opened
        self.users = 0
        self.evicted = False


class ClientPool:
    """Clients by place, opened by ``open_client(place)`` on first use."""

    def __init__(
        self,
        open_client: Callable[[Place], Coroutine[Any, Any, QConnectClient]],
        *,
        max_clients: int,
    ) -> None:
        self._open_client = open_client
        self._max_clients = max_clients
        self._entries: OrderedDict[Place, _Entry] = OrderedDict()
        self._draining: set[_Entry] = set()  # evicted, waiting for their last call to end
        self._closed = False

    @property
    def places(self) -> list[Place]:
        """The places with a client kept now, least recently used first."""
        return list(self._entries)

    @contextlib.asynccontextmanager
    async def use(self, place: Place) -> AsyncIterator[QConnectClient]:
        """The client of ``place`` (opened now if need be), kept open while in use."""
        if self._closed:
            raise RuntimeError("this QConnectRouter is closed")
        entry = self._entries.get(place)
        if entry is None:
            task = asyncio.get_running_loop().create_task(
                self._open_client(place), name=f"qconnect-async-open-{place[0]}-{place[1]}"
            )
            entry = self._entries[place] = _Entry(task)
            await self._evict()
        else:
            self._entries.move_to_end(place)
        entry.users += 1
        try:
            try:
                client = await asyncio.shield(entry.opened)
            except BaseException:
                # A failed open is forgotten; a cancelled wait leaves the open running.
                opened = entry.opened
                if (
                    opened.done()
                    and self._entries.get(place) is entry
                    and (opened.cancelled() or opened.exception() is not None)
                ):
                    del self._entries[place]
                raise
            yield client
        finally:
            entry.users -= 1
            if entry.evicted and entry.users == 0 and entry in self._draining:
                self._draining.discard(entry)
                await _close(entry)

    async def _evict(self) -> None:
        while len(self._entries) > self._max_clients:
            _, entry = self._entries.popitem(last=False)
            entry.evicted = True
            if entry.users == 0:
                await _close(entry)
            else:
                self._draining.add(entry)

    async def close(self) -> None:
        """Close every client (requests in flight end at once); idempotent."""
        self._closed = True
        entries = [*self._entries.values(), *self._draining]
        self._entries.clear()
        self._draining.clear()
        errors = []
        for entry in entries:
            try:
                await _close(entry)
            except Exception as exc:  # every client is closed; the first failure is raised
                errors.append(exc)
        if errors:
            raise errors[0]


async def _close(entry: _Entry) -> None:
    """Close the entry's client, or its open (cancelled, or closed once it opened)."""
    if not entry.opened.done():
        entry.opened.cancel()
        await asyncio.wait([entry.opened])
    if entry.opened.cancelled() or entry.opened.exception() is not None:
        return
    await entry.opened.result().close()

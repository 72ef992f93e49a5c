"""Many listings at once, merged into one stream.

Invariants:
- at most ``max_concurrency`` listings run at once;
- at most ``max_concurrency`` pages are fetched and not yet consumed (read-ahead credits),
  so a slow consumer stops the producers instead of growing a queue;
- when the consumer stops (break, cancel, error) every producer is cancelled and awaited
  before the stream ends: no task outlives the listing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Generic, TypeVar

from ._errors import DeadlineExceededError, QConnectError
from ._paginate import Page

__all__ = ["merge_listings"]

T = TypeVar("T")


class _Done:
    """A producer's last word: its KB is finished (error is None) or failed."""

    __slots__ = ("error", "key")

    def __init__(self, key: str, error: BaseException | None) -> None:
        self.key = key
        self.error = error


class _Merge(Generic[T]):
    def __init__(
        self,
        keys: Sequence[str],
        open_listing: Callable[[str], AsyncGenerator[Page[T], None]],
        max_concurrency: int,
    ) -> None:
        self._pending = deque(keys)
        self._open = open_listing
        self._credits = asyncio.Semaphore(max_concurrency)
        # Bounded by the credits: a producer takes one before it fetches a page.
        self._queue: asyncio.Queue[Page[T] | _Done] = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._produce(), name=f"qconnect-async-listing-{i}")
            for i in range(min(max_concurrency, len(keys)))
        ]

    async def _produce(self) -> None:
        while self._pending:
            key = self._pending.popleft()
            error: BaseException | None = None
            listing = self._open(key)
            try:
                while True:
                    await self._credits.acquire()
                    try:
                        page = await anext(listing)
                    except StopAsyncIteration:
                        self._credits.release()
                        break
                    except BaseException:
                        self._credits.release()
                        raise
                    self._queue.put_nowait(page)
            except Exception as exc:  # reported to the consumer, who decides
                error = exc
            finally:
                await listing.aclose()
            self._queue.put_nowait(_Done(key, error))

    def consumed_one(self) -> None:
        """The consumer is done with a page: one more may be fetched."""
        self._credits.release()

    async def next(self) -> Page[T] | _Done:
        """The next page, or a producer's last word."""
        return await self._queue.get()

    async def cancel(self) -> None:
        """Cancel every producer and wait until all have ended."""
        for task in self._tasks:
            task.cancel()
        interrupted = False
        # Wait for the producers even if we are cancelled ourselves: nothing outlives the
        # listing. Under an anyio cancel scope (Starlette's StreamingResponse) every await
        # is cancelled again, so loop only while a producer is still running.
        while pending := [task for task in self._tasks if not task.done()]:
            try:
                await asyncio.wait(pending)
            except asyncio.CancelledError:
                interrupted = True
        for task in self._tasks:
            if not task.cancelled():
                task.exception()  # retrieved: errors were reported through the queue
        if interrupted:
            raise asyncio.CancelledError


async def merge_listings(
    keys: Sequence[str],
    open_listing: Callable[[str], AsyncGenerator[Page[T], None]],
    *,
    max_concurrency: int,
    fail_fast: bool,
    on_done: Callable[[str, QConnectError | None], None] | None = None,
) -> AsyncGenerator[T, None]:
    """Yield the items of every listing, pages interleaved as they arrive.

    ``open_listing(key)`` gives the pages of one listing. With ``fail_fast`` the first error
    is raised as it is and the other listings are cancelled; without it every listing that
    can finish does, then an ExceptionGroup of the failures is raised; a passed deadline
    (shared by all listings) ends the stream at once either way. ``on_done(key, error)`` is
    called as each listing ends (error None: it finished).
    """
    if not keys:
        return
    merge: _Merge[T] = _Merge(keys, open_listing, max_concurrency)
    errors: list[QConnectError] = []
    remaining = len(keys)
    try:
        while remaining:
            got = await merge.next()
            if isinstance(got, _Done):
                remaining -= 1
                if on_done is not None and (
                    got.error is None or isinstance(got.error, QConnectError)
                ):
                    on_done(got.key, got.error)
                if got.error is not None:
                    # A bug (not a QConnectError) is never collected: it surfaces at once;
                    # so does the deadline, which every other listing would meet too.
                    if (
                        fail_fast
                        or not isinstance(got.error, QConnectError)
                        or isinstance(got.error, DeadlineExceededError)
                    ):
                        raise got.error
                    errors.append(got.error)
                continue
            try:
                for item in got.items:
                    yield item
            finally:
                merge.consumed_one()
    finally:
        await merge.cancel()
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(keys)} listings failed", errors)

"""Many listings at once, merged into one listing of pages: the import jobs of many KBs.

Invariants:
- at most ``max_concurrency`` listings run at once;
- at most ``max_concurrency`` pages are fetched and not yet consumed (read-ahead credits),
  so a slow consumer stops the producers instead of growing a queue;
- the listings' requests are bulk work by default (``_line``: interactive ones go first);
- when the consumer stops (break, cancel, error) every producer is cancelled and awaited
  before the stream ends: no task outlives the listing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TYPE_CHECKING

from ._call import BULK
from ._checks import MAX_PAGE_SIZE, KnowledgeBaseRef
from ._errors import DeadlineExceededError, QConnectError
from ._listing import import_job_pages, knowledge_base_pages
from .models import ImportJobPage

if TYPE_CHECKING:
    from ._ops import Ops

__all__ = ["ListingDone", "all_import_job_pages", "many_import_job_pages"]

#: Called as each knowledge base's listing ends: its ID, and its error (None: it finished).
ListingDone = Callable[[str, QConnectError | None], None]


class _Done:
    """A producer's last word: its KB is finished (error is None) or failed."""

    __slots__ = ("error", "key")

    def __init__(self, key: str, error: BaseException | None) -> None:
        self.key = key
        self.error = error


class _Merge:
    def __init__(
        self,
        ops: Ops,
        refs: Sequence[KnowledgeBaseRef],
        page_size: int,
        max_concurrency: int,
        ends_at: float | None,
        priority: int,
    ) -> None:
        self._ops = ops
        self._priority = priority
        self._pending = deque(refs)
        self._page_size = page_size
        self._ends_at = ends_at
        self._credits = asyncio.Semaphore(max_concurrency)
        # Bounded by the credits: a producer takes one before it fetches a page.
        self._queue: asyncio.Queue[ImportJobPage | _Done] = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._produce(), name=f"qconnect-async-listing-{i}")
            for i in range(min(max_concurrency, len(refs)))
        ]

    async def _produce(self) -> None:
        while self._pending:
            ref = self._pending.popleft()
            error: BaseException | None = None
            listing = import_job_pages(
                self._ops,
                ref,
                None,
                page_size=self._page_size,
                ends_at=self._ends_at,
                priority=self._priority,
            )
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
            self._queue.put_nowait(_Done(ref.id, error))

    def consumed_one(self) -> None:
        """The consumer is done with a page: one more may be fetched."""
        self._credits.release()

    async def next(self) -> ImportJobPage | _Done:
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


async def many_import_job_pages(
    ops: Ops,
    refs: Sequence[KnowledgeBaseRef],
    starting_token: None,
    *,
    page_size: int,
    width: int,
    fail_fast: bool,
    on_done: ListingDone | None,
    deadline: float | None,
    priority: int = BULK,
) -> AsyncGenerator[ImportJobPage, None]:
    """The pages of several KBs' listings, interleaved as they arrive (``_merged``)."""
    for ref in refs:
        ops.check_place(ref)  # the client may have been opened since the listing was made
    when = ops.deadline_at(deadline)
    merged = _merged(ops, refs, page_size, width, fail_fast, on_done, when, priority)
    # aclosing: an `async for` left early does not close the generator it iterates, and
    # its producers would then run until the garbage collector got to it.
    async with contextlib.aclosing(merged) as pages:
        async for page in pages:
            yield page


async def all_import_job_pages(
    ops: Ops,
    starting_token: None,
    *,
    types: frozenset[str] | None,
    page_size: int,
    width: int,
    fail_fast: bool,
    on_done: ListingDone | None,
    deadline: float | None,
    priority: int = BULK,
) -> AsyncGenerator[ImportJobPage, None]:
    """The pages of every KB of the account whose type is one of ``types`` (None: any);
    ``deadline`` covers the listing of the KBs too."""
    when = ops.deadline_at(deadline)
    kb_pages = knowledge_base_pages(
        ops, None, page_size=MAX_PAGE_SIZE, ends_at=when, priority=priority
    )
    async with contextlib.aclosing(kb_pages) as kbs:
        refs = [
            KnowledgeBaseRef(kb.knowledge_base_id)
            async for page in kbs
            for kb in page.items
            if types is None or str(kb.knowledge_base_type) in types
        ]
    merged = _merged(ops, refs, page_size, width, fail_fast, on_done, when, priority)
    async with contextlib.aclosing(merged) as pages:
        async for page in pages:
            yield page


async def _merged(
    ops: Ops,
    refs: Sequence[KnowledgeBaseRef],
    page_size: int,
    width: int,
    fail_fast: bool,
    on_done: ListingDone | None,
    ends_at: float | None,
    priority: int,
) -> AsyncGenerator[ImportJobPage, None]:
    """Yield the pages of every KB's listing, interleaved as they arrive.

    With ``fail_fast`` the first error is raised as it is and the other listings are
    cancelled; without it every listing that can finish does, then an ExceptionGroup of the
    failures is raised; a passed deadline (shared by all listings) ends the stream at once
    either way. ``on_done(kb_id, error)`` is called as each listing ends (None: it finished).
    """
    if not refs:
        return
    merge = _Merge(ops, refs, page_size, width, ends_at, priority)
    errors: list[QConnectError] = []
    remaining = len(refs)
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
                yield got
            finally:
                merge.consumed_one()
    finally:
        await merge.cancel()
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(refs)} listings failed", errors)

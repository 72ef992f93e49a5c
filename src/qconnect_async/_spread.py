"""Many listings over several (account, Region) pairs at once, merged into one stream of pages.

Each pair is a lane of its own. Invariants:
- a lane lists at most ``width`` knowledge bases at once, and has at most ``width`` pages
  fetched and not yet consumed (its read-ahead credits): a slow or throttled lane waits on its
  own credits and its own send rate, never on another lane's, and a slow consumer stops
  every lane instead of growing a queue;
- when the consumer stops (break, cancel, error) every producer is cancelled and awaited
  before the stream ends: no task outlives the listing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, Generic, TypeVar

from . import _checks as check
from ._errors import DeadlineExceededError, QConnectError

__all__ = ["Job", "expired", "spread", "spread_options"]

P = TypeVar("P")
#: One listing of a lane: a name (for errors) and how to open its pages.
Job = tuple[str, Callable[[], AsyncGenerator[P, None]]]


class _Done:
    __slots__ = ("error", "name")

    def __init__(self, name: str, error: BaseException | None) -> None:
        self.name = name
        self.error = error


class _Lane(Generic[P]):
    """One pair's listings: its producers, and its read-ahead credits."""

    def __init__(self, jobs: Sequence[Job[P]], width: int, out: _Queue[P]) -> None:
        self._pending = deque(jobs)
        self._out = out
        self.credits = asyncio.Semaphore(width)
        self.tasks = [
            asyncio.create_task(self._produce(), name=f"qconnect-async-lane-{i}")
            for i in range(min(width, len(jobs)))
        ]

    async def _produce(self) -> None:
        while self._pending:
            name, open_pages = self._pending.popleft()
            error: BaseException | None = None
            pages = open_pages()
            try:
                while True:
                    await self.credits.acquire()
                    try:
                        page = await anext(pages)
                    except BaseException:  # the end, an error or a cancel: no page taken
                        self.credits.release()
                        raise
                    self._out.put_nowait((self, page))
            except StopAsyncIteration:
                pass
            except Exception as exc:  # reported to the consumer, who decides
                error = exc
            finally:
                await pages.aclose()
            self._out.put_nowait(_Done(name, error))


#: What producers hand the consumer: a page (with its lane, to give the credit back), or an end.
_Queue = asyncio.Queue[tuple["_Lane[P]", P] | _Done]


async def spread(
    lanes: Sequence[Sequence[Job[P]]],
    *,
    width: int,
    fail_fast: bool,
    on_done: Callable[[str, QConnectError | None], None] | None = None,
) -> AsyncGenerator[P, None]:
    """The pages of every job of every lane, interleaved as they arrive.

    With ``fail_fast`` the first error is raised as it is and everything else is cancelled;
    without it every listing that can finish does, then an ExceptionGroup of the failures is
    raised. A passed deadline, or an error that is no QConnectError (a bug), ends it at once.
    ``on_done(name, error)`` is called as each listing ends (error None: it finished).
    """
    out: _Queue[P] = asyncio.Queue()  # bounded by the lanes' credits
    running = [_Lane(jobs, width, out) for jobs in lanes if jobs]
    remaining = sum(len(jobs) for jobs in lanes)
    errors: list[QConnectError] = []
    try:
        while remaining:
            got = await out.get()
            if isinstance(got, _Done):
                remaining -= 1
                error = got.error
                if on_done is not None and (error is None or isinstance(error, QConnectError)):
                    on_done(got.name, error)
                if error is not None:
                    if (
                        fail_fast
                        or not isinstance(error, QConnectError)
                        or isinstance(error, DeadlineExceededError)
                    ):
                        raise error
                    errors.append(error)
                continue
            lane, page = got
            try:
                yield page
            finally:
                lane.credits.release()
    finally:
        await _cancel([task for lane in running for task in lane.tasks])
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {sum(map(len, lanes))} listings failed", errors)


async def expired(
    name: str, *, account_id: str | None, region: str | None
) -> AsyncGenerator[Any, None]:
    """The listing of a KB whose turn came after the deadline, in its account and Region."""
    raise DeadlineExceededError(
        "the listing's deadline passed",
        knowledge_base_id=name,
        account_id=account_id,
        region=region,
    )
    yield  # an async generator


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel every producer and wait until all have ended, even if cancelled meanwhile."""
    for task in tasks:
        task.cancel()
    interrupted = False
    while pending := [task for task in tasks if not task.done()]:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            interrupted = True
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: errors were reported through the queue
    if interrupted:
        raise asyncio.CancelledError


def spread_options(page_size: object, width: object, default: int, *rest: Any) -> tuple[Any, ...]:
    """A many-KB listing's options, checked: page size, width (None: ``default``), fail_fast,
    deadline, on_done."""
    fail_fast, deadline, on_done = rest
    return (
        check.page_size(page_size),
        check.at_least_one("max_concurrency", default if width is None else width),
        fail_fast,
        check.deadline(deadline),
        on_done,
    )

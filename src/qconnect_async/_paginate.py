"""One listing: pages in order, tokens followed, a loop guard, and where to resume on error."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from ._errors import PaginationLoopError, QConnectError
from ._telemetry import traced_listing
from .models import ImportJob, ImportJobPage

__all__ = [
    "ImportJobFetch",
    "ImportJobPager",
    "ListingStream",
    "Page",
    "follow_pages",
    "items_of",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Page(Protocol[T_co]):
    """A page of a listing: its items and the token of the next page."""

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_token(self) -> str | None: ...


P = TypeVar("P", bound=Page[object])

#: Fetch the page for a token (None: the first page); raises QConnectError on failure.
ImportJobFetch = Callable[[str | None], Awaitable[ImportJobPage]]


def _digest(token: str) -> bytes:
    # Tokens may be 4 KiB each; remembering a short digest keeps a long listing's guard small.
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


async def follow_pages(
    fetch: Callable[[str | None], Awaitable[P]],
    *,
    starting_token: str | None,
    operation: str,
    knowledge_base_id: str | None = None,
) -> AsyncGenerator[P, None]:
    """Yield pages until one comes without a token.

    An empty page that carries a token is followed (the service may page through filtered
    or deleted records). A token seen before anywhere in this listing, not only the last one,
    raises PaginationLoopError: botocore's paginator checks only the last (botocore#3778).
    Any error gets the token in flight, from which the listing can be resumed.
    """
    seen: set[bytes] = set()
    token = starting_token
    if token is not None:
        seen.add(_digest(token))
    while True:
        try:
            page = await fetch(token)
        except QConnectError as exc:
            exc.next_token = token
            if knowledge_base_id is not None:
                exc.knowledge_base_id = knowledge_base_id
            raise
        # "" ends a listing as absent or null do (botocore's paginator treats it so).
        next_token = page.next_token or None
        if next_token is not None:
            digest = _digest(next_token)
            if digest in seen:
                raise PaginationLoopError(
                    f"the service sent a token it had sent before, after {len(seen)} pages",
                    operation=operation,
                    knowledge_base_id=knowledge_base_id,
                    # Resuming from the repeated token would loop again: resume from the last
                    # token that brought new items.
                    next_token=token,
                )
            seen.add(digest)
        yield page
        if next_token is None:
            return
        token = next_token


async def items_of(pages: AsyncGenerator[Page[T_co], None]) -> AsyncGenerator[T_co, None]:
    """The items of every page, in order."""
    try:
        async for page in pages:
            for item in page.items:
                yield item
    finally:
        # Close the page generator now, not when the garbage collector gets to it.
        await pages.aclose()


class ImportJobPager:
    """The import jobs of one knowledge base, fetched lazily.

    ``async for job in pager`` yields :class:`ImportJob`; ``async for page in pager.pages()``
    yields :class:`ImportJobPage`. Nothing is requested before iteration starts, and each
    iteration is a new listing from ``starting_token``.
    """

    def __init__(
        self,
        start: Callable[[], ImportJobFetch],
        *,
        knowledge_base_id: str,
        starting_token: str | None,
    ) -> None:
        # Called once per iteration: a listing's deadline starts when its iteration does.
        self._start = start
        self._knowledge_base_id = knowledge_base_id
        self._starting_token = starting_token

    @property
    def knowledge_base_id(self) -> str:
        """The knowledge base listed (its ID, even when an ARN was given)."""
        return self._knowledge_base_id

    @property
    def starting_token(self) -> str | None:
        """The token this listing starts from (None: from the first page)."""
        return self._starting_token

    def pages(self) -> AsyncGenerator[ImportJobPage, None]:
        """The listing page by page; each page knows the token of the next."""
        kb_id = self._knowledge_base_id
        return traced_listing(
            lambda: follow_pages(
                self._start(),
                starting_token=self._starting_token,
                operation="ListImportJobs",
                knowledge_base_id=kb_id,
            ),
            "ListImportJobs",
            kb_id,
        )

    def __aiter__(self) -> AsyncIterator[ImportJob]:
        return items_of(self.pages())

    def __repr__(self) -> str:
        return (
            f"ImportJobPager(knowledge_base_id={self._knowledge_base_id!r}, "
            f"starting_token={self._starting_token!r})"
        )


class ListingStream(Generic[T]):
    """A stream of items that owns its work: its requests and, for many KBs, its tasks.

    ``async for item in stream`` iterates it once. ``aclose()``, leaving ``async with stream:``
    and cancellation end every request and task of the listing before they return; after a
    ``break`` outside ``async with`` (or ``contextlib.aclosing``) call ``aclose()``, or the
    work ends only when the garbage collector gets to it. Nothing starts before the first item
    is asked for.
    """

    def __init__(self, start: Callable[[], AsyncGenerator[T, None]], *, name: str) -> None:
        self._start: Callable[[], AsyncGenerator[T, None]] | None = start
        self._name = name
        self._items: AsyncGenerator[T, None] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._items is None:
            if self._start is None:
                raise StopAsyncIteration  # closed before it started
            self._items, self._start = self._start(), None
        return await anext(self._items)

    async def aclose(self) -> None:
        """End the listing now: every request and task of it has ended when this returns."""
        self._start = None
        items, self._items = self._items, None
        if items is not None:
            await items.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<ListingStream {self._name}>"

"""Listing[T]: every listing of the client, its items or its pages; and one listing's pages.

A listing's pages come from an async generator of pages for a starting token (``open``):
``import_job_pages`` and ``knowledge_base_pages`` here, the merged ones in ``_fanout``. They
call the operations object (``_ops``) page by page, follow tokens, and guard against loops.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, overload

from ._call import INTERACTIVE
from ._checks import KnowledgeBaseRef
from ._checks import token as check_token
from ._errors import PaginationLoopError, ValidationError
from ._telemetry import traced_listing
from .models import ImportJob, ImportJobPage, KnowledgeBase, KnowledgeBasePage

if TYPE_CHECKING:
    from ._ops import Ops

__all__ = ["Listing", "Page", "import_job_pages", "knowledge_base_pages"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Page(Protocol[T_co]):
    """A page of a listing: its items and the token of the next page."""

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_token(self) -> str | None: ...


#: The pages of a listing from a starting token (None: from the first page).
OpenPages = Callable[[str | None], AsyncGenerator[Page[T], None]]


class Listing(Generic[T]):
    """A lazy listing: ``async for item in listing``, or page by page with ``pages()``.

    Nothing is requested before the first item or page is asked for. A listing runs once,
    as a generator does: a second ``async for`` goes on where the first stopped, and
    ``pages()`` may be called once, before any item was read (RuntimeError otherwise); list
    again by calling the client's method again. ``aclose()``, leaving ``async with listing:``
    and cancellation end every request and task of the listing before they return; after a
    ``break`` outside ``async with``, call ``aclose()`` (or the work ends only when the
    garbage collector gets to it).
    """

    def __init__(
        self,
        open_pages: OpenPages[T],
        *,
        starting_token: str | None = None,
        resumable: bool = True,
        name: str,
    ) -> None:
        self._open: OpenPages[T] | None = open_pages
        self._starting_token = starting_token
        self._resumable = resumable
        self._name = name
        self._pages: AsyncGenerator[Page[T], None] | None = None
        self._items: AsyncGenerator[T, None] | None = None

    @overload
    def pages(
        self: Listing[ImportJob], starting_token: str | None = None
    ) -> AsyncGenerator[ImportJobPage, None]: ...

    @overload
    def pages(
        self: Listing[KnowledgeBase], starting_token: str | None = None
    ) -> AsyncGenerator[KnowledgeBasePage, None]: ...

    def pages(self, starting_token: str | None = None) -> AsyncGenerator[Any, None]:
        """The listing page by page, from ``starting_token`` (None: where the listing starts).

        Each page carries ``next_token``, from which a later listing can resume; the pages of
        import jobs carry their ``knowledge_base_id`` too. A listing of many knowledge bases
        interleaves theirs and cannot start from one token.
        """
        token = check_token(starting_token)
        if token is not None and not self._resumable:
            raise ValidationError(f"the {self._name} cannot start from one token")
        return self._start(token if token is not None else self._starting_token)

    def _start(self, token: str | None) -> AsyncGenerator[Page[T], None]:
        if self._open is None:
            raise RuntimeError(f"this listing of {self._name} has started or is closed")
        opened, self._open = self._open, None
        self._pages = opened(token)
        return self._pages

    def __aiter__(self) -> AsyncIterator[T]:
        # The items themselves (one frame less per item than going through __anext__).
        if self._items is None:
            if self._open is None:
                return _no_items()  # closed, or its pages were taken
            self._items = _items_of(self._start(self._starting_token))
        return self._items

    async def __anext__(self) -> T:
        return await anext(self.__aiter__())

    async def aclose(self) -> None:
        """End the listing now: every request and task of it has ended when this returns."""
        self._open = None
        items, self._items = self._items, None
        pages, self._pages = self._pages, None
        if items is not None:
            await items.aclose()
        if pages is not None:
            await pages.aclose()

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
        return f"<Listing {self._name}>"


async def _no_items() -> AsyncGenerator[T, None]:
    return
    yield


async def _items_of(pages: AsyncIterator[Page[T]]) -> AsyncGenerator[T, None]:
    async for page in pages:
        for item in page.items:
            yield item


class LoopGuard:
    """Tokens seen in one listing: a token seen before, not only the last one, is a loop.

    botocore's paginator checks only the last token (botocore#3778). Tokens may be 4 KiB
    each: a short digest of each keeps a long listing's guard small.
    """

    def __init__(self, starting_token: str | None, where: Mapping[str, Any]) -> None:
        self._where = where  # the client's account and Region, named by the error
        self._seen: set[bytes] = set()
        if starting_token is not None:
            self._seen.add(self._digest(starting_token))

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.blake2b(token.encode(), digest_size=16).digest()

    def check(self, token: str, *, sent: str | None, operation: str, kb: str | None) -> None:
        """Remember ``token``, the next page's; PaginationLoopError if it came before."""
        digest = self._digest(token)
        if digest in self._seen:
            raise PaginationLoopError(
                f"the service sent a token it had sent before, after {len(self._seen)} pages",
                operation=operation,
                knowledge_base_id=kb,
                # Resuming from the repeated token would loop again: resume from the last
                # token that brought new items.
                next_token=sent,
                **self._where,
            )
        self._seen.add(digest)


def import_job_pages(
    ops: Ops,
    ref: KnowledgeBaseRef,
    starting_token: str | None,
    *,
    page_size: int,
    deadline: float | None = None,
    ends_at: float | None = None,
    priority: int = INTERACTIVE,
    max_rate_wait: float | None = None,
) -> AsyncGenerator[ImportJobPage, None]:
    """The import jobs of one KB, page by page, under one listing span.

    ``deadline``: seconds from the first page (None: the retry policy's); ``ends_at``
    instead: an absolute time shared with other listings (a fan-out's). ``priority`` and
    ``max_rate_wait``: each page request's, as ``Call`` says. An empty page that
    carries a token is followed (the service may page through filtered or deleted records);
    a page without one, or with "" (as botocore reads it), is the last.
    """
    when = (deadline, ends_at, priority, max_rate_wait)
    pages = _import_job_pages(ops, ref, starting_token, page_size, *when)
    return traced_listing(pages, "ListImportJobs", ref.id)


async def _import_job_pages(
    ops: Ops,
    ref: KnowledgeBaseRef,
    token: str | None,
    page_size: int,
    deadline: float | None,
    ends_at: float | None,
    priority: int,
    max_rate_wait: float | None,
) -> AsyncGenerator[ImportJobPage, None]:
    ops.check_place(ref)  # the client may have been opened since the listing was made
    when = ends_at if ends_at is not None else ops.deadline_at(deadline)
    guard = LoopGuard(token, ops.where)
    while True:
        page = await ops.list_import_jobs(
            ref.id,
            page_size=page_size,
            token=token,
            deadline=when,
            priority=priority,
            max_rate_wait=max_rate_wait,
        )
        if page.next_token:
            guard.check(page.next_token, sent=token, operation="ListImportJobs", kb=ref.id)
        yield page
        if not page.next_token:
            return
        token = page.next_token


def knowledge_base_pages(
    ops: Ops,
    starting_token: str | None,
    *,
    page_size: int,
    deadline: float | None = None,
    ends_at: float | None = None,
    priority: int = INTERACTIVE,
    max_rate_wait: float | None = None,
) -> AsyncGenerator[KnowledgeBasePage, None]:
    """The knowledge bases of the account, page by page, under one listing span."""
    when = (deadline, ends_at, priority, max_rate_wait)
    pages = _knowledge_base_pages(ops, starting_token, page_size, *when)
    return traced_listing(pages, "ListKnowledgeBases")


async def _knowledge_base_pages(
    ops: Ops,
    token: str | None,
    page_size: int,
    deadline: float | None,
    ends_at: float | None,
    priority: int,
    max_rate_wait: float | None,
) -> AsyncGenerator[KnowledgeBasePage, None]:
    when = ends_at if ends_at is not None else ops.deadline_at(deadline)
    guard = LoopGuard(token, ops.where)
    while True:
        page = await ops.list_knowledge_bases(
            page_size=page_size,
            token=token,
            deadline=when,
            priority=priority,
            max_rate_wait=max_rate_wait,
        )
        if page.next_token:
            guard.check(page.next_token, sent=token, operation="ListKnowledgeBases", kb=None)
        yield page
        if not page.next_token:
            return
        token = page.next_token

"""QConnectClient: the transport, the sender and the listings, tied together."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

from ._errors import QConnectError, ValidationError
from ._fanout import merge_listings
from ._inputs import MAX_PAGE_SIZE, check_page_size, check_token
from ._inputs import knowledge_base_id as _kb
from ._paginate import ImportJobFetch, ImportJobPager, follow_pages, items_of
from ._ratelimit import RateLimiter, SendRateLimiter
from ._retry import RetryPolicy
from ._send import Sender
from ._transport import KnowledgeBasePage, Transport, TransportOptions
from .models import ImportJob, ImportJobPage, KnowledgeBase

__all__ = ["ListingDone", "QConnectClient"]

#: Called as each knowledge base's listing ends: its ID, and its error (None: it finished).
ListingDone = Callable[[str, QConnectError | None], None]


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


def _check_concurrency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_concurrency must be a positive int, not {value!r}")
    return value


class QConnectClient:
    """An async client for the import jobs of Amazon Q in Connect knowledge bases.

    Open it once per process (it loads botocore's models, a few hundred ms) and share it
    between tasks: every listing of a client shares its concurrency limit, retry quota and
    send rate. A client belongs to the event loop that opened it.
    """

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        session: Any | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        profile_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        rate_limiter: RateLimiter[Any] | None = None,
    ) -> None:
        self._rate_limiter = rate_limiter
        self._max_concurrency = _check_concurrency(max_concurrency)
        self._retry = retry if retry is not None else RetryPolicy()
        self._session = session
        self._options = TransportOptions(
            region_name=region_name,
            endpoint_url=endpoint_url,
            profile_name=profile_name,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # The pool must never be the hidden limit (aiobotocore's default is 10).
            max_pool_connections=max(10, self._max_concurrency),
        )
        self._transport: Transport | None = None
        self._state = _State.UNOPENED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sender: Sender | None = None

    @classmethod
    def from_client(
        cls,
        client: Any,
        *,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter[Any] | None = None,
    ) -> Self:
        """Wrap an aiobotocore qconnect client the application manages; it is never closed here.

        The client's own retries should be off (``retries={"total_max_attempts": 1}``), or
        botocore retries under this library and attempts multiply.
        """
        transport = Transport.borrow(client)
        self = cls(max_concurrency=max_concurrency, retry=retry, rate_limiter=rate_limiter)
        if transport.max_pool_connections < self._max_concurrency:
            raise ValueError(
                f"the client's connection pool ({transport.max_pool_connections}) is smaller "
                f"than max_concurrency ({self._max_concurrency}): it would silently become "
                "the limit; create it with AioConfig(max_pool_connections=...)"
            )
        self._start(transport)
        return self

    def _start(self, transport: Transport) -> None:
        self._transport = transport
        self._sender = Sender(
            policy=self._retry,
            limiter=self._rate_limiter if self._rate_limiter is not None else SendRateLimiter(),
            max_concurrency=self._max_concurrency,
        )
        self._state = _State.OPEN

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has in flight, all listings together."""
        return self._max_concurrency

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy of every request of this client."""
        return self._retry

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._state is _State.CLOSED

    async def open(self) -> Self:
        """Create the underlying aiobotocore client; ``async with`` calls this for you."""
        if self._state is _State.CLOSED:
            raise RuntimeError("this QConnectClient is closed; create a new one")
        if self._state is _State.OPEN:
            return self
        self._loop = asyncio.get_running_loop()
        self._start(await Transport.open(self._options, self._session))
        return self

    async def close(self) -> None:
        """Close the underlying client if this library created it. Closing twice is harmless."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _ready(self) -> tuple[Transport, Sender]:
        """The transport and sender, after checking the client may be used here and now."""
        if self._state is _State.UNOPENED:
            raise RuntimeError("open the client first: `async with QConnectClient(...) as c:`")
        if self._state is _State.CLOSED or self._transport is None or self._sender is None:
            raise RuntimeError("this QConnectClient is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop  # a borrowed client belongs to the loop of its first use
        elif loop is not self._loop:
            raise RuntimeError(
                "this QConnectClient belongs to another event loop; open one client per loop"
            )
        return self._transport, self._sender

    def _deadline(self) -> float | None:
        after = self._retry.deadline
        return None if after is None else time.monotonic() + after

    # -- one knowledge base -------------------------------------------------------------------

    def list_import_jobs(
        self,
        knowledge_base_id: str,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
    ) -> ImportJobPager:
        """The import jobs of one knowledge base (an ID or an ARN), fetched lazily.

        ``async for job in pager`` yields ImportJob; ``async for page in pager.pages()``
        yields ImportJobPage. Resume from any page's ``next_token`` with ``starting_token``.
        """
        size = check_page_size(page_size) or MAX_PAGE_SIZE
        return self._pager(_kb(knowledge_base_id), size, check_token(starting_token))

    def _pager(self, kb_id: str, size: int, token: str | None) -> ImportJobPager:
        return ImportJobPager(
            lambda: self._import_job_fetch(kb_id, size),
            knowledge_base_id=kb_id,
            starting_token=token,
        )

    def _import_job_fetch(self, kb_id: str, size: int) -> ImportJobFetch:
        deadline = self._deadline()

        async def fetch(token: str | None) -> ImportJobPage:
            transport, sender = self._ready()
            return await sender.send(
                lambda: transport.list_import_jobs(kb_id, max_results=size, next_token=token),
                operation="ListImportJobs",
                knowledge_base_id=kb_id,
                deadline=deadline,
            )

        return fetch

    # -- many knowledge bases -----------------------------------------------------------------

    def list_import_jobs_many(
        self,
        knowledge_base_ids: Iterable[str],
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
    ) -> AsyncGenerator[ImportJob, None]:
        """The import jobs of several knowledge bases, listed at once and merged.

        Duplicates are listed once; at most ``max_concurrency`` (default: the client's) are
        listed at once. ``fail_fast`` raises the first error and cancels the rest; otherwise
        every KB that can be listed is, then an ExceptionGroup of the failures is raised.
        ``on_listing_done(kb_id, error)`` is called as each KB's listing ends (for progress).
        """
        if isinstance(knowledge_base_ids, str):
            raise ValidationError("knowledge_base_ids must be a collection of IDs, not one string")
        ids = list(dict.fromkeys(_kb(kb) for kb in knowledge_base_ids))
        size, width = self._fanout_args(page_size, max_concurrency)
        return self._merge(ids, size, width, fail_fast, on_listing_done)

    def _fanout_args(self, page_size: object, max_concurrency: object) -> tuple[int, int]:
        """The page size and fan-out width of a many-KB listing, checked."""
        width = self._max_concurrency if max_concurrency is None else max_concurrency
        return check_page_size(page_size) or MAX_PAGE_SIZE, _check_concurrency(width)

    async def _merge(
        self,
        ids: Sequence[str],
        size: int,
        width: int,
        fail_fast: bool,
        on_done: ListingDone | None,
    ) -> AsyncGenerator[ImportJob, None]:
        self._ready()

        def open_listing(kb_id: str) -> AsyncGenerator[ImportJobPage, None]:
            return self._pager(kb_id, size, None).pages()

        async for job in merge_listings(
            ids, open_listing, max_concurrency=width, fail_fast=fail_fast, on_done=on_done
        ):
            yield job

    def list_knowledge_bases(
        self, *, page_size: int | None = None
    ) -> AsyncGenerator[KnowledgeBase, None]:
        """Every knowledge base of the account (in the client's region), fetched lazily."""
        size = check_page_size(page_size) or MAX_PAGE_SIZE
        return self._knowledge_bases(size)

    async def _knowledge_bases(self, size: int) -> AsyncGenerator[KnowledgeBase, None]:
        deadline = self._deadline()

        async def fetch(token: str | None) -> KnowledgeBasePage:
            transport, sender = self._ready()
            return await sender.send(
                lambda: transport.list_knowledge_bases(max_results=size, next_token=token),
                operation="ListKnowledgeBases",
                deadline=deadline,
            )

        pages = follow_pages(fetch, starting_token=None, operation="ListKnowledgeBases")
        async for kb in items_of(pages):
            yield kb

    def list_all_import_jobs(
        self,
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
    ) -> AsyncGenerator[ImportJob, None]:
        """The import jobs of every knowledge base of the account, listed as ``_many`` does."""
        size, width = self._fanout_args(page_size, max_concurrency)
        return self._all(size, width, fail_fast, on_listing_done)

    async def _all(
        self, size: int, width: int, fail_fast: bool, on_done: ListingDone | None
    ) -> AsyncGenerator[ImportJob, None]:
        ids = [kb.knowledge_base_id async for kb in self._knowledge_bases(MAX_PAGE_SIZE)]
        async for job in self._merge(ids, size, width, fail_fast, on_done):
            yield job

    def __repr__(self) -> str:
        return f"<QConnectClient {self._state.value} max_concurrency={self._max_concurrency}>"


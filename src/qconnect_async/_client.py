"""QConnectClient: the transport, the sender and the listings, tied together."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from . import _checks as check
from ._checks import MAX_PAGE_SIZE, KnowledgeBaseRef
from ._errors import QConnectError, ValidationError
from ._fanout import merge_listings
from ._jobs import delete_job, get_job, start_job, wait_for_job
from ._paginate import ImportJobFetch, ImportJobPager, ListingStream, follow_pages, items_of
from ._ratelimit import AdaptiveRateLimiter, RateLimiter
from ._retry import RetryPolicy
from ._send import Sender
from ._telemetry import traced_listing, watch_rate
from ._transport import BotocoreTransport, KnowledgeBasePage, Transport, TransportOptions
from ._upload import Uploader
from .models import ExternalSourceConfiguration, ImportJob, ImportJobPage, KnowledgeBase

if TYPE_CHECKING:
    # Optional, for type checkers only: the stubs of the aiobotocore client from_client takes.
    from types_aiobotocore_qconnect.client import QConnectClient as AioQConnectClient

__all__ = ["ListingDone", "QConnectClient"]

#: Called as each knowledge base's listing ends: its ID, and its error (None: it finished).
ListingDone = Callable[[str, QConnectError | None], None]


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENING = "opening"
    OPEN = "open"
    CLOSED = "closed"


def _check_limiter(value: object) -> RateLimiter[Any]:
    if not isinstance(value, RateLimiter):
        raise ValidationError(
            f"rate_limiter must be a RateLimiter (acquire, release, rate), not {value!r}"
        )
    return value


class QConnectClient:
    """An async client for the import jobs of Amazon Q in Connect knowledge bases.

    Open it once per process (it loads botocore's models, a few hundred ms) and share it
    between tasks: every listing of a client shares its concurrency limit, retry quota and
    send rate. A client belongs to the event loop that opened it. It is opened once and
    closed once, by its owner (a lifespan, ``main``): opening an open client is a
    RuntimeError, so that no inner ``async with`` closes a client others still use.
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
        self._max_concurrency = check.at_least_one("max_concurrency", max_concurrency)
        # One limiter per client by default; an application may share one between clients.
        self._rate_limiter: RateLimiter[Any] = (
            AdaptiveRateLimiter() if rate_limiter is None else _check_limiter(rate_limiter)
        )
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
        self._entered = True
        self._uploader: Uploader | None = None

    @classmethod
    def from_client(
        cls,
        client: AioQConnectClient,
        *,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter[Any] | None = None,
    ) -> Self:
        """Wrap an aiobotocore qconnect client the application manages; it is never closed here.

        The client's own retries should be off (``retries={"total_max_attempts": 1}``), or
        botocore retries under this library and attempts multiply.
        """
        return cls._with_transport(
            BotocoreTransport.borrow(client),
            max_concurrency=max_concurrency,
            retry=retry,
            rate_limiter=rate_limiter,
        )

    @classmethod
    def _with_transport(
        cls,
        transport: Transport,
        *,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter[Any] | None = None,
    ) -> Self:
        """A client on any ``Transport`` (tests pass their own); ``close()`` closes it."""
        self = cls(max_concurrency=max_concurrency, retry=retry, rate_limiter=rate_limiter)
        if transport.max_pool_connections < self._max_concurrency:
            raise ValidationError(
                f"the client's connection pool ({transport.max_pool_connections}) is smaller "
                f"than max_concurrency ({self._max_concurrency}): it would silently become "
                "the limit; create it with AioConfig(max_pool_connections=...)"
            )
        self._start(transport)
        self._entered = False  # one `async with` (or open()) is still allowed on the wrapper
        return self

    def _start(self, transport: Transport) -> None:
        self._transport = transport
        self._uploader = Uploader(
            connect_timeout=self._options.connect_timeout, read_timeout=self._options.read_timeout
        )
        self._sender = Sender(
            policy=self._retry,
            limiter=self._rate_limiter,
            max_concurrency=self._max_concurrency,
        )
        watch_rate(self._sender.limiter)
        self._state = _State.OPEN

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has in flight, all listings together."""
        return self._max_concurrency

    @property
    def rate_limiter(self) -> RateLimiter[Any]:
        """The send-rate limiter every request of this client goes through."""
        return self._rate_limiter

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
        if self._state is _State.OPEN and not self._entered:
            self._entered = True  # from_client: ready already, entered once
            return self
        if self._state is not _State.UNOPENED:
            raise RuntimeError(
                "this QConnectClient is already open: share the open client, do not "
                "open it again (its owner's `async with` closes it for everyone)"
            )
        self._state = _State.OPENING  # a second open() while this one awaits is refused too
        try:
            self._loop = asyncio.get_running_loop()
            self._start(await BotocoreTransport.open(self._options, self._session))
        except BaseException:
            self._state = _State.UNOPENED
            raise
        return self

    async def close(self) -> None:
        """End every request in flight, then close the underlying client if we created it.

        Tasks iterating a listing of this client raise RuntimeError at once; nothing is
        retried. Closing twice is harmless.
        """
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._sender is not None:
            self._sender.close()
        transport, self._transport = self._transport, None
        uploader, self._uploader = self._uploader, None
        try:
            if uploader is not None:
                await uploader.close()
        finally:
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
        if self._state in (_State.UNOPENED, _State.OPENING):
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

    def _deadline_at(self, seconds: float | None) -> float | None:
        """The absolute time (the loop's clock) a listing starting now must end by."""
        after = seconds if seconds is not None else self._retry.deadline
        return None if after is None else asyncio.get_running_loop().time() + after

    def _kb(self, value: object) -> KnowledgeBaseRef:
        """A KB reference, checked now against the client's Region when it is open."""
        ref = check.knowledge_base_ref(value)
        self._check_place(ref)
        return ref

    def _check_place(self, ref: KnowledgeBaseRef) -> None:
        transport = self._transport
        if transport is not None:
            ref.check_place(partition=transport.partition, region=transport.region_name)

    # -- one knowledge base -------------------------------------------------------------------

    def list_import_jobs(
        self,
        knowledge_base_id: str,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
    ) -> ImportJobPager:
        """The import jobs of one knowledge base (an ID or an ARN), fetched lazily.

        ``async for job in pager`` yields ImportJob; ``async for page in pager.pages()``
        yields ImportJobPage. Resume from any page's ``next_token`` with ``starting_token``.
        ``deadline``: seconds the whole iteration may take (default: the retry policy's);
        past it, DeadlineExceededError.
        """
        size = check.page_size(page_size)
        ref = self._kb(knowledge_base_id)
        token = check.token(starting_token)
        seconds = check.deadline(deadline)

        def start() -> ImportJobFetch:
            self._check_place(ref)  # the client may have been opened since the call
            return self._import_job_fetch(ref.id, size, self._deadline_at(seconds))

        return ImportJobPager(start, knowledge_base_id=ref.id, starting_token=token)

    def _import_job_fetch(self, kb_id: str, size: int, deadline: float | None) -> ImportJobFetch:
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
        deadline: float | None = None,
    ) -> ListingStream[ImportJob]:
        """The import jobs of several knowledge bases, listed at once and merged.

        Duplicates are listed once; at most ``max_concurrency`` (default: the client's) are
        listed at once. ``fail_fast`` raises the first error and cancels the rest; otherwise
        every KB that can be listed is, then an ExceptionGroup of the failures is raised.
        ``on_listing_done(kb_id, error)`` is called as each KB's listing ends (for progress).
        ``deadline``: seconds the whole stream may take, all KBs together. Use the stream in
        ``async with`` (or call ``aclose()``) to end its tasks when you stop early.
        """
        if isinstance(knowledge_base_ids, str):
            raise ValidationError("knowledge_base_ids must be a collection of IDs, not one string")
        refs = list({ref.id: ref for ref in map(self._kb, knowledge_base_ids)}.values())
        size, width = self._fanout_args(page_size, max_concurrency)
        seconds = check.deadline(deadline)

        def start() -> AsyncGenerator[ImportJob, None]:
            for ref in refs:
                self._check_place(ref)
            when = self._deadline_at(seconds)
            ids = [ref.id for ref in refs]
            return self._merge(ids, size, width, fail_fast, on_listing_done, when)

        return ListingStream(start, name=f"import jobs of {len(refs)} knowledge bases")

    def _fanout_args(self, page_size: object, max_concurrency: object) -> tuple[int, int]:
        """The page size and fan-out width of a many-KB listing, checked."""
        width = self._max_concurrency if max_concurrency is None else max_concurrency
        return check.page_size(page_size), check.at_least_one("max_concurrency", width)

    async def _merge(
        self,
        ids: Sequence[str],
        size: int,
        width: int,
        fail_fast: bool,
        on_done: ListingDone | None,
        deadline: float | None,
    ) -> AsyncGenerator[ImportJob, None]:
        self._ready()

        def open_listing(kb_id: str) -> AsyncGenerator[ImportJobPage, None]:
            fetch = self._import_job_fetch(kb_id, size, deadline)
            pager = ImportJobPager(lambda: fetch, knowledge_base_id=kb_id, starting_token=None)
            return pager.pages()

        # aclosing: an `async for` left early does not close the generator it iterates, and
        # its producers would then run until the garbage collector got to it.
        async with contextlib.aclosing(
            merge_listings(
                ids, open_listing, max_concurrency=width, fail_fast=fail_fast, on_done=on_done
            )
        ) as jobs:
            async for job in jobs:
                yield job

    def list_knowledge_bases(
        self,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
    ) -> ListingStream[KnowledgeBase]:
        """Every knowledge base of the account (in the client's region), fetched lazily.

        ``starting_token`` resumes from an error's ``next_token``; ``deadline``: seconds the
        whole listing may take (default: the retry policy's).
        """
        size = check.page_size(page_size)
        token = check.token(starting_token)
        seconds = check.deadline(deadline)
        return ListingStream(
            lambda: self._knowledge_bases(size, self._deadline_at(seconds), token),
            name="knowledge bases",
        )

    async def _knowledge_bases(
        self, size: int, deadline: float | None, starting_token: str | None = None
    ) -> AsyncGenerator[KnowledgeBase, None]:
        async def fetch(token: str | None) -> KnowledgeBasePage:
            transport, sender = self._ready()
            return await sender.send(
                lambda: transport.list_knowledge_bases(max_results=size, next_token=token),
                operation="ListKnowledgeBases",
                deadline=deadline,
            )

        pages = traced_listing(
            lambda: follow_pages(
                fetch, starting_token=starting_token, operation="ListKnowledgeBases"
            ),
            "ListKnowledgeBases",
        )
        async with contextlib.aclosing(items_of(pages)) as kbs:
            async for kb in kbs:
                yield kb

    def list_all_import_jobs(
        self,
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
        deadline: float | None = None,
    ) -> ListingStream[ImportJob]:
        """The import jobs of every knowledge base of the account, listed as ``_many`` does.

        ``deadline`` bounds the whole stream, the listing of the KBs included.
        """
        size, width = self._fanout_args(page_size, max_concurrency)
        seconds = check.deadline(deadline)
        return ListingStream(
            lambda: self._all(size, width, fail_fast, on_listing_done, self._deadline_at(seconds)),
            name="import jobs of every knowledge base",
        )

    async def _all(
        self,
        size: int,
        width: int,
        fail_fast: bool,
        on_done: ListingDone | None,
        deadline: float | None,
    ) -> AsyncGenerator[ImportJob, None]:
        async with contextlib.aclosing(self._knowledge_bases(MAX_PAGE_SIZE, deadline)) as kbs:
            ids = [kb.knowledge_base_id async for kb in kbs]
        async with contextlib.aclosing(
            self._merge(ids, size, width, fail_fast, on_done, deadline)
        ) as jobs:
            async for job in jobs:
                yield job

    # -- managing import jobs -----------------------------------------------------------------

    async def start_import_job(
        self,
        knowledge_base_id: str,
        content: bytes | str | os.PathLike[str],
        *,
        import_job_type: str = "QUICK_RESPONSES",
        content_type: str = "text/csv",
        metadata: Mapping[str, str] | None = None,
        external_source_configuration: ExternalSourceConfiguration
        | Mapping[str, Any]
        | None = None,
        client_token: str | None = None,
    ) -> ImportJob:
        """Upload ``content`` (bytes, or a path to a file) and start an import job of it.

        StartContentUpload, a PUT with exactly the headers it names, then StartImportJob with
        ``client_token`` (one is generated when not given): retries never start two jobs.
        The job is returned as started (START_IN_PROGRESS); see ``wait_for_import_job``.
        """
        kb = self._kb(knowledge_base_id).id
        source = check.content_source(content)
        kind = check.short_string("import_job_type", import_job_type)
        ctype = check.content_type(content_type)
        meta = check.metadata(metadata)
        token = None if client_token is None else check.short_string("client_token", client_token)
        external = check.external_source(external_source_configuration)
        transport, sender = self._ready()
        assert self._uploader is not None
        return await start_job(
            transport,
            sender,
            self._uploader,
            kb,
            source,
            import_job_type=kind,
            content_type=ctype,
            metadata=meta,
            external_source_configuration=external,
            client_token=token,
        )

    async def get_import_job(self, knowledge_base_id: str, import_job_id: str) -> ImportJob:
        """One import job, with its ``url``, ``url_expiry`` and ``failed_record_report``."""
        kb, job_id = self._kb(knowledge_base_id).id, check.import_job_id(import_job_id)
        transport, sender = self._ready()
        return await get_job(transport, sender, kb, job_id)

    async def delete_import_job(self, knowledge_base_id: str, import_job_id: str) -> None:
        """Delete an import job; one still running is a ConflictError."""
        kb, job_id = self._kb(knowledge_base_id).id, check.import_job_id(import_job_id)
        transport, sender = self._ready()
        await delete_job(transport, sender, kb, job_id)

    async def wait_for_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the public signature (design.md)
    ) -> ImportJob:
        """Wait until an import job ends: the job once COMPLETE.

        Raises ImportJobFailedError (``.job``) once it FAILED, DeadlineExceededError (also a
        TimeoutError) when ``timeout`` seconds pass first. Polls GetImportJob, soon at first
        then less often, within the client's send rate.
        """
        kb, job_id = self._kb(knowledge_base_id).id, check.import_job_id(import_job_id)
        seconds = check.seconds("timeout", timeout)
        transport, sender = self._ready()
        return await wait_for_job(transport, sender, kb, job_id, seconds=seconds)

    def __repr__(self) -> str:
        return f"<QConnectClient {self._state.value} max_concurrency={self._max_concurrency}>"

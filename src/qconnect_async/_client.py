"""QConnectClient: the public face, a thin layer over the operations and the listings."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from . import _checks as check
from ._checks import KnowledgeBaseRef
from ._errors import ValidationError
from ._fanout import ListingDone, all_import_job_pages, many_import_job_pages
from ._imports import start_job, wait_for_job
from ._listing import Listing, import_job_pages, knowledge_base_pages
from ._ops import Ops
from ._ratelimit import AdaptiveRateLimiter, RateLimiter
from ._retry import RetryPolicy
from ._transport import BotocoreTransport, Transport, TransportOptions
from .models import ExternalSourceConfiguration, ImportJob, KnowledgeBase

if TYPE_CHECKING:
    # Optional, for type checkers only: the stubs of the aiobotocore client from_client takes.
    from types_aiobotocore_qconnect.client import QConnectClient as AioQConnectClient

__all__ = ["QConnectClient"]


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
        options = TransportOptions(
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
        self._ops = Ops(
            options=options,
            session=session,
            policy=self._retry,
            limiter=self._rate_limiter,
            max_concurrency=self._max_concurrency,
        )

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
        self._ops.adopt(transport)
        return self

    @classmethod
    def _with_options(
        cls,
        options: TransportOptions,
        *,
        session: Any | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter[Any] | None = None,
    ) -> Self:
        """A client whose aiobotocore client is built from ``options`` (a QConnectRouter's)."""
        self = cls(
            session=session, max_concurrency=max_concurrency, retry=retry, rate_limiter=rate_limiter
        )
        self._ops.options = options
        return self

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
        return self._ops.state == "closed"

    async def open(self) -> Self:
        """Create the underlying aiobotocore client; ``async with`` calls this for you."""
        await self._ops.open()
        return self

    async def close(self) -> None:
        """End every request in flight, then close the underlying client if we created it.

        Tasks iterating a listing of this client raise RuntimeError at once; nothing is
        retried. Closing twice is harmless.
        """
        await self._ops.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _kb(self, value: object) -> KnowledgeBaseRef:
        """A KB reference, checked now (against the client's Region too, once it is open)."""
        ref = check.knowledge_base_ref(value)
        self._ops.check_place(ref)
        return ref

    # -- listings -----------------------------------------------------------------------------

    def list_import_jobs(
        self,
        knowledge_base_id: str,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of one knowledge base (an ID or an ARN), fetched lazily.

        Items are ImportJob; ``pages()`` yields ImportJobPage. Resume from any page's (or
        error's) ``next_token`` with ``starting_token``. ``deadline``: seconds the whole
        listing may take (default: the retry policy's); past it, DeadlineExceededError.
        """
        ref = self._kb(knowledge_base_id)
        return Listing(
            functools.partial(
                import_job_pages,
                self._ops,
                ref,
                page_size=check.page_size(page_size),
                deadline=check.deadline(deadline),
            ),
            starting_token=check.token(starting_token),
            name=f"import jobs of {ref.id}",
        )

    def list_import_jobs_many(
        self,
        knowledge_base_ids: Iterable[str],
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
        deadline: float | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of several knowledge bases, listed at once and merged.

        Duplicates are listed once; at most ``max_concurrency`` (default: the client's) are
        listed at once. ``fail_fast`` raises the first error and cancels the rest; otherwise
        every KB that can be listed is, then an ExceptionGroup of the failures is raised.
        ``on_listing_done(kb_id, error)`` is called as each KB's listing ends (for progress).
        ``deadline``: seconds the whole listing may take, all KBs together.
        """
        if isinstance(knowledge_base_ids, str):
            raise ValidationError("knowledge_base_ids must be a collection of IDs, not one string")
        refs = list({ref.id: ref for ref in map(self._kb, knowledge_base_ids)}.values())
        return Listing(
            functools.partial(
                many_import_job_pages,
                self._ops,
                refs,
                **self._fanout(page_size, max_concurrency, fail_fast, on_listing_done, deadline),
            ),
            resumable=False,
            name=f"import jobs of {len(refs)} knowledge bases",
        )

    def list_all_import_jobs(
        self,
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
        deadline: float | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of every knowledge base of the account, listed as ``_many`` does.

        ``deadline`` bounds the whole listing, the listing of the KBs included.
        """
        return Listing(
            functools.partial(
                all_import_job_pages,
                self._ops,
                **self._fanout(page_size, max_concurrency, fail_fast, on_listing_done, deadline),
            ),
            resumable=False,
            name="import jobs of every knowledge base",
        )

    def _fanout(
        self,
        page_size: object,
        max_concurrency: object,
        fail_fast: bool,
        on_done: ListingDone | None,
        deadline: object,
    ) -> dict[str, Any]:
        """The options of a many-KB listing, checked."""
        width = self._max_concurrency if max_concurrency is None else max_concurrency
        return {
            "page_size": check.page_size(page_size),
            "width": check.at_least_one("max_concurrency", width),
            "fail_fast": fail_fast,
            "on_done": on_done,
            "deadline": check.deadline(deadline),
        }

    def list_knowledge_bases(
        self,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
    ) -> Listing[KnowledgeBase]:
        """Every knowledge base of the account (in the client's Region), fetched lazily.

        ``pages()`` yields KnowledgeBasePage; resume from a page's or an error's
        ``next_token`` with ``starting_token``. ``deadline``: seconds the whole listing may
        take (default: the retry policy's).
        """
        return Listing(
            functools.partial(
                knowledge_base_pages,
                self._ops,
                page_size=check.page_size(page_size),
                deadline=check.deadline(deadline),
            ),
            starting_token=check.token(starting_token),
            name="knowledge bases",
        )

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
        return await start_job(
            self._ops,
            kb,
            check.content_source(content),
            import_job_type=check.short_string("import_job_type", import_job_type),
            content_type=check.content_type(content_type),
            metadata=check.metadata(metadata),
            external_source_configuration=check.external_source(external_source_configuration),
            client_token=None
            if client_token is None
            else check.short_string("client_token", client_token),
        )

    async def get_import_job(self, knowledge_base_id: str, import_job_id: str) -> ImportJob:
        """One import job, with its ``url``, ``url_expiry`` and ``failed_record_report``."""
        kb = self._kb(knowledge_base_id).id
        return await self._ops.get_import_job(kb, check.import_job_id(import_job_id))

    async def delete_import_job(self, knowledge_base_id: str, import_job_id: str) -> None:
        """Delete an import job; one still running is a ConflictError."""
        kb = self._kb(knowledge_base_id).id
        await self._ops.delete_import_job(kb, check.import_job_id(import_job_id))

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
        kb = self._kb(knowledge_base_id).id
        job_id = check.import_job_id(import_job_id)
        seconds = check.seconds("timeout", timeout)
        return await wait_for_job(self._ops, kb, job_id, seconds=seconds)

    def __repr__(self) -> str:
        return f"<QConnectClient {self._ops.state} max_concurrency={self._max_concurrency}>"

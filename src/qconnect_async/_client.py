"""QConnectClient: the public face, a thin layer over the operations and the listings (the
methods that manage import jobs are its base's, in ``_jobmethods``)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from . import _checks as check
from ._call import BULK, INTERACTIVE
from ._errors import ValidationError
from ._fanout import ListingDone, all_import_job_pages, many_import_job_pages
from ._jobmethods import ImportJobMethods, Priority
from ._listing import Listing, import_job_pages, knowledge_base_pages
from ._ops import Ops
from ._ratelimit import AdaptiveRateLimiter, RateLimiter
from ._retry import RetryPolicy
from ._transport import BotocoreTransport, Transport, TransportOptions
from .models import ImportJob, KnowledgeBase, KnowledgeBaseType

if TYPE_CHECKING:
    # Optional, for type checkers only: the stubs of the aiobotocore client from_client takes.
    from types_aiobotocore_qconnect.client import QConnectClient as AioQConnectClient

__all__ = ["Priority", "QConnectClient"]


def _check_limiter(value: object) -> RateLimiter[Any]:
    if not isinstance(value, RateLimiter):
        raise ValidationError(
            f"rate_limiter must be a RateLimiter (acquire, release, rate), not {value!r}"
        )
    return value


class QConnectClient(ImportJobMethods):
    """An async client for the import jobs of Amazon Q in Connect knowledge bases.

    Open it once per process (models load in a thread, a few hundred ms) and share it: its
    listings share one concurrency limit, retry quota and send rate. It belongs to the loop
    that opened it; its owner opens and closes it once (opening an open client is a
    RuntimeError). What is not given is found as boto3 finds it.

    Args:
        region_name: The Region (else the AWS settings'; none at all: ValidationError at open).
        endpoint_url: Where requests go (else ``AWS_ENDPOINT_URL_QCONNECT``, else AWS's).
        session: An aiobotocore ``AioSession`` of yours (credentials, hooks); never changed.
        max_concurrency: The most requests in flight, all listings of the client together.
        retry: How requests are retried (default ``RetryPolicy()``).
        profile_name: The AWS profile (else ``AWS_PROFILE``, else the default one).
        aws_access_key_id: Credentials for this client only (else botocore's chain).
        aws_secret_access_key: The secret of ``aws_access_key_id``.
        aws_session_token: The session token of temporary credentials.
        connect_timeout: Seconds to connect, per attempt.
        read_timeout: Seconds to wait for an answer, per attempt (a timeout is retried).
        rate_limiter: The send rate (default a new ``AdaptiveRateLimiter()``; may be shared).
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

        Turn its own retries off (``retries={"total_max_attempts": 1}``), or attempts multiply.
        It is never changed: no clock-skew correction, no redaction of botocore's logs.

        Args:
            client: An open aiobotocore ``qconnect`` client.
            max_concurrency: As for the constructor.
            retry: As for the constructor.
            rate_limiter: As for the constructor.

        Raises:
            ValidationError: Its connection pool is smaller than ``max_concurrency``.
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
        """Create the underlying aiobotocore client; ``async with`` calls this for you.

        Raises:
            RuntimeError: The client is open already, or closed.
            ValidationError: No Region is configured (code ``NoRegion``).
        """
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

    # -- listings -----------------------------------------------------------------------------

    def list_import_jobs(
        self,
        knowledge_base_id: str,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of one knowledge base, fetched lazily: a ``Listing`` of ImportJob.

        Args:
            knowledge_base_id: An ID or an ARN (of the client's Region).
            page_size: Jobs per request, 1-100 (default 100, the most the service allows).
            starting_token: A page's or an error's ``next_token``, to resume from.
            deadline: Seconds the whole listing may take (default the retry policy's).
            priority: "interactive" (the default) or "bulk": the order at the client's
                slots and send rate.
            max_rate_wait: Seconds each request may wait for the client's slots and send
                rate; a longer expected wait raises RateWaitExceededError at once.

        Raises:
            ValidationError: A malformed argument, before any request.
            QConnectError: While iterating: any error, with the ``next_token`` to resume from.
        """
        ref = self._kb(knowledge_base_id)
        return Listing(
            functools.partial(
                import_job_pages,
                self._ops,
                ref,
                page_size=check.page_size(page_size),
                deadline=check.deadline(deadline),
                priority=check.priority(priority, INTERACTIVE),
                max_rate_wait=check.rate_wait(max_rate_wait),
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
        priority: Priority | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of several knowledge bases, listed at once and merged.

        Duplicates are listed once; reading ahead stops while the consumer is slow. The pages of
        the KBs interleave, so the listing cannot resume from one token.

        Args:
            knowledge_base_ids: IDs or ARNs (a collection, not one string).
            max_concurrency: The most KBs listed at once (default the client's).
            fail_fast: Raise the first error as it is and cancel the rest; if False, list every
                KB that can be, then raise an ExceptionGroup of the others' errors.
            page_size: Jobs per request, 1-100 (default 100).
            on_listing_done: Called as ``on_listing_done(kb_id, error_or_None)`` as each KB ends.
            deadline: Seconds the whole listing may take, all KBs together.
            priority: "bulk" by default: the client's interactive requests go first, and
                bulk keeps a share.
        """
        if isinstance(knowledge_base_ids, str):
            raise ValidationError("knowledge_base_ids must be a collection of IDs, not one string")
        refs = list({ref.id: ref for ref in map(self._kb, knowledge_base_ids)}.values())
        return Listing(
            functools.partial(
                many_import_job_pages,
                self._ops,
                refs,
                **self._fanout(
                    page_size, max_concurrency, fail_fast, on_listing_done, deadline, priority
                ),
            ),
            resumable=False,
            name=f"import jobs of {len(refs)} knowledge bases",
        )

    def list_all_import_jobs(
        self,
        *,
        knowledge_base_types: Iterable[str] | None = (KnowledgeBaseType.QUICK_RESPONSES,),
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of the account's knowledge bases, as ``_many`` lists them.

        Args:
            knowledge_base_types: The types of KB listed: by default QUICK_RESPONSES, the one
                type that has import jobs (no request is spent on the others); any type may
                be named, one unknown to this version too; None lists every KB.
            max_concurrency: The most KBs listed at once (default the client's).
            fail_fast: As for ``list_import_jobs_many``.
            page_size: Jobs per request, 1-100 (default 100).
            on_listing_done: Called as ``on_listing_done(kb_id, error_or_None)`` as each KB ends.
            deadline: Seconds the whole listing may take, the listing of the KBs included.
            priority: "bulk" by default, as for ``list_import_jobs_many``.
        """
        return Listing(
            functools.partial(
                all_import_job_pages,
                self._ops,
                types=check.knowledge_base_types(knowledge_base_types),
                **self._fanout(
                    page_size, max_concurrency, fail_fast, on_listing_done, deadline, priority
                ),
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
        priority: object,
    ) -> dict[str, Any]:
        """The options of a many-KB listing, checked."""
        width = self._max_concurrency if max_concurrency is None else max_concurrency
        return {
            "page_size": check.page_size(page_size),
            "width": check.at_least_one("max_concurrency", width),
            "fail_fast": fail_fast,
            "on_done": on_done,
            "deadline": check.deadline(deadline),
            "priority": check.priority(priority, BULK),
        }

    def list_knowledge_bases(
        self,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> Listing[KnowledgeBase]:
        """Every knowledge base of the account (in the client's Region), fetched lazily.

        Args:
            page_size: Knowledge bases per request, 1-100 (default 100).
            starting_token: A page's or an error's ``next_token``, to resume from.
            deadline: Seconds the whole listing may take (default the retry policy's).
            priority: "interactive" (the default) or "bulk": the order at the client's
                slots and send rate.
            max_rate_wait: Seconds each request may wait for the client's slots and send
                rate; a longer expected wait raises RateWaitExceededError at once.
        """
        return Listing(
            functools.partial(
                knowledge_base_pages,
                self._ops,
                page_size=check.page_size(page_size),
                deadline=check.deadline(deadline),
                priority=check.priority(priority, INTERACTIVE),
                max_rate_wait=check.rate_wait(max_rate_wait),
            ),
            starting_token=check.token(starting_token),
            name="knowledge bases",
        )

    def __repr__(self) -> str:
        return f"<QConnectClient {self._ops.state} max_concurrency={self._max_concurrency}>"

"""Ops: the client's operations, one typed async method per service operation.

Ops owns what a request goes through: the transport (one attempt on the wire), the sender
(slots, send rate, retries, deadline) and the uploader (the PUT of an import's content). Each
method builds the ``Call`` of its request once and sends it; the listings (``_listing``,
``_fanout``) and the imports (``_imports``) call these methods, and the client is a thin face
over them. Ops also keeps the client's life: opened once, closed once, on one event loop.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ._call import INTERACTIVE, Call
from ._checks import KnowledgeBaseRef
from ._decode import (
    ContentUpload,
    content_upload,
    import_job,
    import_job_page,
    knowledge_base_page,
)
from ._errors import ValidationError
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy
from ._send import Sender
from ._telemetry import watch_rate
from ._transport import BotocoreTransport, Transport, TransportOptions
from ._upload import PUT_OPERATION, Uploader
from .models import ImportJob, ImportJobPage, KnowledgeBasePage

__all__ = ["NO_LIMITS", "Limits", "Ops"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What each request of a single call waits under (``Call``'s fields of the same names)."""

    #: the absolute time (the loop's clock) the whole call must end by; None: no deadline
    deadline: float | None = None
    priority: int = INTERACTIVE
    max_rate_wait: float | None = None

    def fields(self) -> dict[str, Any]:
        """The keyword arguments of ``Call`` these limits set."""
        return {
            "deadline": self.deadline,
            "priority": self.priority,
            "max_rate_wait": self.max_rate_wait,
        }


NO_LIMITS = Limits()

T = TypeVar("T")
#: What the transport answers: the parsed response, or its raw body (``_decode``).
Answer = Mapping[str, Any]


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENING = "opening"
    OPEN = "open"
    CLOSED = "closed"


class Ops:
    """The operations of one client, over its transport, sender and uploader."""

    def __init__(
        self,
        *,
        options: TransportOptions,
        session: Any | None,
        policy: RetryPolicy,
        limiter: RateLimiter[Any],
        max_concurrency: int,
    ) -> None:
        self.options = options
        self.policy = policy
        self._session = session
        self.sender = Sender(policy=policy, limiter=limiter, max_concurrency=max_concurrency)
        self._max_concurrency = max_concurrency
        self._transport: Transport | None = None
        self._uploader: Uploader | None = None
        self._state = _State.UNOPENED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._entered = True
        self._where: dict[str, Any] = {"account_id": None, "region": None}

    # -- life ---------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """ "unopened", "opening", "open" or "closed"."""
        return self._state.value

    @property
    def transport(self) -> Transport | None:
        """The transport, once open (None before and after)."""
        return self._transport

    @property
    def where(self) -> Mapping[str, Any]:
        """The account (when known) and Region of the client's requests, as error fields:
        every ``Call`` carries them, so each error is built naming them."""
        return self._where

    def adopt(self, transport: Transport) -> None:
        """Run on ``transport`` (borrowed or the tests'): open now, entered once later."""
        if transport.max_pool_connections < self._max_concurrency:
            raise ValidationError(
                f"the client's connection pool ({transport.max_pool_connections}) is smaller "
                f"than max_concurrency ({self._max_concurrency}): it would silently become "
                "the limit; create it with AioConfig(max_pool_connections=...)"
            )
        self._start(transport)
        self._entered = False  # one `async with` (or open()) is still allowed on the wrapper

    def _start(self, transport: Transport) -> None:
        self._transport = transport
        self._where = {"account_id": self.options.account_id, "region": transport.region_name}
        self._uploader = Uploader(
            connect_timeout=self.options.connect_timeout, read_timeout=self.options.read_timeout
        )
        watch_rate(self.sender.limiter)
        self._state = _State.OPEN

    async def open(self) -> None:
        """Create the aiobotocore client, unless one was adopted and not yet entered."""
        if self._state is _State.CLOSED:
            raise RuntimeError("this QConnectClient is closed; create a new one")
        if self._state is _State.OPEN and not self._entered:
            self._entered = True  # from_client: ready already, entered once
            return
        if self._state is not _State.UNOPENED:
            raise RuntimeError(
                "this QConnectClient is already open: share the open client, do not "
                "open it again (its owner's `async with` closes it for everyone)"
            )
        self._state = _State.OPENING  # a second open() while this one awaits is refused too
        try:
            self._loop = asyncio.get_running_loop()
            self._start(await BotocoreTransport.open(self.options, self._session))
        except BaseException:
            self._state = _State.UNOPENED
            raise

    async def close(self) -> None:
        """End every request in flight, then close what this client owns; idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self.sender.close()
        transport, self._transport = self._transport, None
        uploader, self._uploader = self._uploader, None
        try:
            if uploader is not None:
                await uploader.close()
        finally:
            if transport is not None:
                await transport.close()

    def _ready(self) -> Transport:
        """The transport, after checking the client may be used here and now."""
        if self._state in (_State.UNOPENED, _State.OPENING):
            raise RuntimeError("open the client first: `async with QConnectClient(...) as c:`")
        if self._state is _State.CLOSED or self._transport is None:
            raise RuntimeError("this QConnectClient is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop  # a borrowed client belongs to the loop of its first use
        elif loop is not self._loop:
            raise RuntimeError(
                "this QConnectClient belongs to another event loop; open one client per loop"
            )
        return self._transport

    def check_place(self, ref: KnowledgeBaseRef) -> None:
        """Refuse an ARN of another partition or Region than the client's (once it is open)."""
        transport = self._transport
        if transport is not None:
            ref.check_place(partition=transport.partition, region=transport.region_name)

    def deadline_at(self, seconds: float | None) -> float | None:
        """The absolute time (the loop's clock) work starting now must end by."""
        after = seconds if seconds is not None else self.policy.deadline
        return None if after is None else asyncio.get_running_loop().time() + after

    # -- the operations -----------------------------------------------------------------------

    def _send(
        self, call: Call, params: Mapping[str, Any], decode: Callable[[Answer, Call], T]
    ) -> Awaitable[T]:
        """``call`` through the sender: each attempt one send of the transport, decoded
        inside the attempt (a body cut short is a transient failure, sent again). Not a
        coroutine itself: one frame less between a page and the wire."""
        transport = self._ready()

        async def attempt() -> T:
            return decode(await transport.send(call, params), call)

        return self.sender.send(call, attempt)

    async def list_import_jobs(
        self,
        kb: str,
        *,
        page_size: int,
        token: str | None,
        deadline: float | None,
        priority: int = INTERACTIVE,
        max_rate_wait: float | None = None,
        upload_id: str | None = None,
    ) -> ImportJobPage:
        """One page of a KB's import jobs, from ``token`` (None: the first page);
        ``upload_id``: the upload a start that lists (``_idempotency``) is about."""
        call = Call(
            "ListImportJobs",
            kb,
            upload_id=upload_id,
            next_token=token,
            deadline=deadline,
            priority=priority,
            max_rate_wait=max_rate_wait,
            **self._where,
        )
        params = {"knowledgeBaseId": kb, "maxResults": page_size, **_token(token)}
        return await self._send(call, params, import_job_page)

    async def list_knowledge_bases(
        self,
        *,
        page_size: int,
        token: str | None,
        deadline: float | None,
        priority: int = INTERACTIVE,
        max_rate_wait: float | None = None,
    ) -> KnowledgeBasePage:
        """One page of the account's knowledge bases, from ``token``."""
        call = Call(
            "ListKnowledgeBases",
            next_token=token,
            deadline=deadline,
            priority=priority,
            max_rate_wait=max_rate_wait,
            **self._where,
        )
        params = {"maxResults": page_size, **_token(token)}
        return await self._send(call, params, knowledge_base_page)

    async def start_content_upload(
        self,
        kb: str,
        content_type: str,
        limits: Limits = NO_LIMITS,
        *,
        url_ttl: int | None = None,
    ) -> ContentUpload:
        """Where to PUT an import's content, and with which headers; the URL lasts
        ``url_ttl`` minutes (None: the service's default)."""
        call = Call("StartContentUpload", kb, **limits.fields(), **self._where)
        params: dict[str, Any] = {"knowledgeBaseId": kb, "contentType": content_type}
        if url_ttl is not None:
            params["presignedUrlTimeToLive"] = url_ttl
        upload = await self._send(call, params, content_upload)
        offset = self._ready().clock_offset
        if not offset:
            return upload
        # urlExpiry is on the service's clock; the PUT's expiry check reads this host's.
        expiry = upload.url_expiry - timedelta(seconds=offset)
        return upload.model_copy(update={"url_expiry": expiry})

    async def put(
        self,
        kb: str,
        upload: ContentUpload,
        content: bytes | Path,
        size: int,
        limits: Limits = NO_LIMITS,
    ) -> None:
        """The PUT of ``content`` (``size`` bytes) to ``upload``'s presigned URL."""
        self._ready()
        uploader = self._uploader
        assert uploader is not None  # open: made with the transport
        call = Call(PUT_OPERATION, kb, upload_id=upload.upload_id, **limits.fields(), **self._where)
        await self.sender.send(
            call,
            lambda: uploader.put(
                call,
                upload.url.get_secret_value(),
                upload.headers_to_include,
                content,
                size=size,
                url_expiry=upload.url_expiry.timestamp(),
            ),
        )

    async def start_import_job(
        self,
        kb: str,
        upload_id: str,
        *,
        import_job_type: str,
        client_token: str,
        metadata: Mapping[str, str] | None,
        external_source_configuration: Mapping[str, Any] | None,
        limits: Limits = NO_LIMITS,
    ) -> ImportJob:
        """Start importing an upload; the same ``client_token`` makes the same job."""
        call = Call("StartImportJob", kb, upload_id=upload_id, **limits.fields(), **self._where)
        params: dict[str, Any] = {
            "knowledgeBaseId": kb,
            "importJobType": import_job_type,
            "uploadId": upload_id,
            "clientToken": client_token,
        }
        if metadata is not None:
            params["metadata"] = dict(metadata)
        if external_source_configuration is not None:
            params["externalSourceConfiguration"] = dict(external_source_configuration)
        return await self._send(call, params, import_job)

    async def get_import_job(self, kb: str, job_id: str, limits: Limits = NO_LIMITS) -> ImportJob:
        """One import job."""
        call = Call("GetImportJob", kb, **limits.fields(), **self._where)
        params = {"knowledgeBaseId": kb, "importJobId": job_id}
        return await self._send(call, params, import_job)

    async def delete_import_job(self, kb: str, job_id: str, limits: Limits = NO_LIMITS) -> None:
        """Delete one import job (204, no body)."""
        call = Call("DeleteImportJob", kb, **limits.fields(), **self._where)
        params = {"knowledgeBaseId": kb, "importJobId": job_id}
        await self._send(call, params, _nothing)


def _token(token: str | None) -> dict[str, str]:
    """The nextToken parameter of a listing's page (none for the first page)."""
    return {} if token is None else {"nextToken": token}


def _nothing(answer: Answer, call: Call) -> None:
    """The answer of an operation that returns nothing."""

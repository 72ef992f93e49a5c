"""The router's calls on import jobs: start, get, delete, wait for one or many.

``QConnectRouter`` inherits them (``RouterJobMethods``), as the client inherits its own from
``_jobmethods``: each takes the client's keyword parameters, passed to the client of the KB's
(account, Region) pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import _checks as check
from ._call import INTERACTIVE
from ._checks import KnowledgeBaseRef
from ._jobmethods import Priority
from ._listing import Listing
from ._spread import Job, expired, spread
from .models import ExternalSourceConfiguration, ImportJob, ImportJobPage

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from ._client import QConnectClient
    from ._retry import RetryPolicy

__all__ = ["RouterJobMethods", "Where"]

#: A KB's pair: (account, or None for the default one learnt on use; Region).
Where = tuple[str | None, str]


def _limits(deadline: object, priority: object, max_rate_wait: object) -> None:
    """A single call's limits, checked before its pair's client is opened (the client checks
    them again as it takes them)."""
    check.deadline(deadline)
    check.priority(priority, INTERACTIVE)
    check.rate_wait(max_rate_wait)


class RouterJobMethods:
    """Starting, reading, deleting and waiting for import jobs (a part of QConnectRouter)."""

    _slots: asyncio.Semaphore
    _retry: RetryPolicy

    def _where(self, ref: KnowledgeBaseRef) -> Where:
        raise NotImplementedError

    def _on(self, where: Where) -> AbstractAsyncContextManager[QConnectClient]:
        raise NotImplementedError

    async def get_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> ImportJob:
        """One import job of a knowledge base of any pair, as the client's."""
        ref = check.knowledge_base_ref(knowledge_base_id)
        job_id = check.import_job_id(import_job_id)
        _limits(deadline, priority, max_rate_wait)
        async with self._on(self._where(ref)) as client, self._slots:
            return await client.get_import_job(
                ref.id, job_id, deadline=deadline, priority=priority, max_rate_wait=max_rate_wait
            )

    async def delete_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> None:
        """Delete an import job of a knowledge base of any pair, as the client's."""
        ref = check.knowledge_base_ref(knowledge_base_id)
        job_id = check.import_job_id(import_job_id)
        _limits(deadline, priority, max_rate_wait)
        async with self._on(self._where(ref)) as client, self._slots:
            await client.delete_import_job(
                ref.id, job_id, deadline=deadline, priority=priority, max_rate_wait=max_rate_wait
            )

    async def start_import_job(
        self,
        knowledge_base_id: str,
        content: bytes | str | os.PathLike[str] | None = None,
        *,
        upload_id: str | None = None,
        import_job_type: str = "QUICK_RESPONSES",
        content_type: str = "text/csv",
        metadata: Mapping[str, str] | None = None,
        external_source_configuration: ExternalSourceConfiguration
        | Mapping[str, Any]
        | None = None,
        client_token: str | None = None,
        presigned_url_ttl: int | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> ImportJob:
        """Upload ``content`` (or use ``upload_id``) and start an import job, as the
        client's, in the KB's pair (an ``upload_id`` is of that pair's uploads)."""
        ref = check.knowledge_base_ref(knowledge_base_id)
        _limits(deadline, priority, max_rate_wait)
        check.presigned_url_ttl(presigned_url_ttl)
        check.content_or_upload(content, upload_id)
        async with self._on(self._where(ref)) as client, self._slots:
            return await client.start_import_job(
                ref.id,
                content,
                upload_id=upload_id,
                import_job_type=import_job_type,
                content_type=content_type,
                metadata=metadata,
                external_source_configuration=external_source_configuration,
                client_token=client_token,
                presigned_url_ttl=presigned_url_ttl,
                deadline=deadline,
                priority=priority,
                max_rate_wait=max_rate_wait,
            )

    async def wait_for_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the client's signature
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> ImportJob:
        """Wait until an import job ends, as the client's (its polls take no router slot)."""
        ref = check.knowledge_base_ref(knowledge_base_id)
        job_id = check.import_job_id(import_job_id)
        check.seconds("timeout", timeout)
        _limits(deadline, priority, max_rate_wait)
        async with self._on(self._where(ref)) as client:
            return await client.wait_for_import_job(
                ref.id,
                job_id,
                timeout=timeout,
                deadline=deadline,
                priority=priority,
                max_rate_wait=max_rate_wait,
            )

    def wait_for_import_jobs(
        self,
        jobs: Iterable[ImportJob | tuple[str, str]],
        *,
        deadline: float | None = None,
    ) -> Listing[ImportJob]:
        """Each job once it has ended, in the order they end, as the client's: jobs of KBs
        of any pairs (ImportJobs, or (KB ARN, job ID) pairs), each pair's waited for by its
        client (its polls take no router slot), merged as they end. ``deadline``: all
        pairs together (default: the retry policy's)."""
        groups: dict[Where, dict[tuple[str, str], None]] = {}
        for kb, job_id in check.jobs_to_wait_for(jobs):
            ref = check.knowledge_base_ref(kb)
            groups.setdefault(self._where(ref), {})[(ref.id, job_id)] = None
        seconds = check.deadline(deadline)
        count = sum(map(len, groups.values()))

        async def pages(starting_token: str | None) -> AsyncGenerator[ImportJobPage, None]:
            loop = asyncio.get_running_loop()
            after = seconds if seconds is not None else self._retry.deadline
            ends_at = None if after is None else loop.time() + after

            def lane(where: Where, pairs: list[tuple[str, str]]) -> list[Job[ImportJobPage]]:
                def open_pages() -> AsyncGenerator[ImportJobPage, None]:
                    left = None if ends_at is None else ends_at - loop.time()
                    if left is not None and left <= 0:
                        return expired(pairs[0][0], account_id=where[0], region=where[1])
                    return self._waited(where, pairs, left)

                return [(f"{where[0] or 'default'}/{where[1]}", open_pages)]

            lanes = [lane(where, list(pairs)) for where, pairs in groups.items()]
            async with contextlib.aclosing(spread(lanes, width=1, fail_fast=True)) as merged:
                async for page in merged:
                    yield page

        return Listing(pages, resumable=False, name=f"waiting for {count} import jobs")

    async def _waited(
        self, where: Where, pairs: list[tuple[str, str]], deadline: float | None
    ) -> AsyncGenerator[ImportJobPage, None]:
        """The pages of ended jobs of one pair, from its client's ``wait_for_import_jobs``."""
        async with self._on(where) as client:
            listing = client.wait_for_import_jobs(pairs, deadline=deadline)
            async with contextlib.aclosing(listing.pages()) as ended:
                async for page in ended:
                    yield page

"""The client's methods that manage import jobs: start, get, delete, wait for one or many.

``QConnectClient`` inherits them (``ImportJobMethods``), so that each module of the public
face holds one concern; they read the client's operations object and its argument checks.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from . import _checks as check
from ._call import INTERACTIVE
from ._checks import KnowledgeBaseRef
from ._errors import ValidationError
from ._idempotency import START_KEY
from ._imports import start_job, wait_for_job
from ._listing import Listing
from ._ops import Limits, Ops
from ._waitmany import wait_for_jobs
from .models import ExternalSourceConfiguration, ImportJob

__all__ = ["ImportJobMethods", "Priority"]

#: Interactive work goes before bulk work at the client's slots and send rate (``_line``).
Priority = Literal["interactive", "bulk"]


class ImportJobMethods:
    """Starting, reading, deleting and waiting for import jobs (a part of QConnectClient)."""

    _ops: Ops

    def _kb(self, value: object) -> KnowledgeBaseRef:
        """A KB reference, checked now (against the client's Region too, once it is open)."""
        ref = check.knowledge_base_ref(value)
        self._ops.check_place(ref)
        return ref

    def _limits(self, deadline: object, priority: object, max_rate_wait: object) -> Limits:
        """A single call's limits, checked; its deadline from now (default: none)."""
        seconds = check.deadline(deadline)
        return Limits(
            deadline=None if seconds is None else self._ops.deadline_at(seconds),
            priority=check.priority(priority, INTERACTIVE),
            max_rate_wait=check.rate_wait(max_rate_wait),
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
        """Upload ``content`` and start an import job of it; the job as started.

        StartContentUpload, a PUT to its presigned URL, then StartImportJob with
        ``client_token``, the same on every retry: a retried start never makes two jobs.

        Args:
            knowledge_base_id: An ID or an ARN.
            content: Bytes, or a path (str or PathLike) to a file, streamed from disk.
            upload_id: Instead of content: an upload already made (an error's ``upload_id``),
                started with no second PUT.
            import_job_type: The service's import type.
            content_type: text/csv, text/plain, text/html, application/pdf, a docx type or
                ``application/x.wisdom-json;source=...``.
            metadata: At most 10 entries kept with the job (9 with a ``client_token``).
            external_source_configuration: Where the content came from.
            client_token: Yours, to make a repeated start idempotent (default a new uuid4):
                the same token for the same KB and content returns the same job, across
                calls and processes; it takes one metadata entry, ``"qconnect-async:start"``.
            presigned_url_ttl: Minutes the upload's URL stays valid, 1-60.
            deadline: Seconds the call may take, retries included (default none).
            priority: "interactive" (the default) or "bulk": the order at the client's
                slots and send rate.
            max_rate_wait: Seconds each request may wait for the client's slots and send
                rate; a longer expected wait raises RateWaitExceededError at once.

        Raises:
            ValidationError: Bad input (before any request), or the service's.
            ConflictError: The same ``client_token`` was used for other content.
            ResourceNotFoundError: No such knowledge base.
            ServiceQuotaExceededError: Too many imports at once in the knowledge base.
        """
        kb = self._kb(knowledge_base_id).id
        limits = self._limits(deadline, priority, max_rate_wait)
        check.content_or_upload(content, upload_id)
        token = None if client_token is None else check.short_string("client_token", client_token)
        checked = check.metadata(metadata)
        if token is not None and checked is not None:
            if START_KEY in checked:
                raise ValidationError(f"the metadata key {START_KEY!r} is reserved")
            if len(checked) >= check.MAX_METADATA_ENTRIES:
                raise ValidationError(
                    f"with a client_token, metadata holds at most "
                    f"{check.MAX_METADATA_ENTRIES - 1} entries (one records the token)"
                )
        return await start_job(
            self._ops,
            kb,
            None if content is None else check.content_source(content),
            upload_id=None if upload_id is None else check.short_string("upload_id", upload_id),
            import_job_type=check.short_string("import_job_type", import_job_type),
            content_type=check.content_type(content_type),
            metadata=checked,
            external_source_configuration=check.external_source(external_source_configuration),
            client_token=token,
            url_ttl=check.presigned_url_ttl(presigned_url_ttl),
            limits=limits,
        )

    async def get_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> ImportJob:
        """One import job, with its ``url``, ``url_expiry`` and ``failed_record_report``.

        Args:
            knowledge_base_id: An ID or an ARN.
            import_job_id: The job's ID.
            deadline: Seconds the call may take, retries included (default none; the retry
                policy's is the listings'); past it, DeadlineExceededError.
            priority: "interactive" (the default) or "bulk": the order at the client's
                slots and send rate.
            max_rate_wait: Seconds each request may wait for the client's slots and send
                rate; a longer expected wait raises RateWaitExceededError at once.

        Raises:
            ResourceNotFoundError: No such knowledge base or job.
            RateWaitExceededError: The send rate would hold it past ``max_rate_wait``.
        """
        kb = self._kb(knowledge_base_id).id
        job_id = check.import_job_id(import_job_id)
        limits = self._limits(deadline, priority, max_rate_wait)
        return await self._ops.get_import_job(kb, job_id, limits)

    async def delete_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> None:
        """Delete an import job.

        Args:
            knowledge_base_id: An ID or an ARN.
            import_job_id: The job's ID.
            deadline: As for ``get_import_job``.
            priority: As for ``get_import_job``.
            max_rate_wait: As for ``get_import_job``.

        Raises:
            ConflictError: The job is still running.
            ResourceNotFoundError: No such knowledge base or job.
        """
        kb = self._kb(knowledge_base_id).id
        job_id = check.import_job_id(import_job_id)
        limits = self._limits(deadline, priority, max_rate_wait)
        await self._ops.delete_import_job(kb, job_id, limits)

    async def wait_for_import_job(
        self,
        knowledge_base_id: str,
        import_job_id: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the public signature (design.md)
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> ImportJob:
        """Wait until an import job ends: the job once COMPLETE.

        Polls GetImportJob at once, then after 1 s, 1.5x longer each time up to 15 s, within the
        client's send rate. A status not known yet keeps it waiting.

        Args:
            knowledge_base_id: An ID or an ARN.
            import_job_id: The job's ID.
            timeout: Seconds to wait in all.
            deadline: Seconds, when sooner than ``timeout``.
            priority: As for ``get_import_job``, for each poll.
            max_rate_wait: As for ``get_import_job``, for each poll.

        Raises:
            ImportJobFailedError: It ended FAILED (or was deleted); ``.job`` is the job.
            DeadlineExceededError: ``timeout`` passed first (a TimeoutError); the job goes on.
        """
        kb = self._kb(knowledge_base_id).id
        job_id = check.import_job_id(import_job_id)
        seconds = check.seconds("timeout", timeout)
        limits = Limits(
            deadline=None if deadline is None else self._ops.deadline_at(check.deadline(deadline)),
            priority=check.priority(priority, INTERACTIVE),
            max_rate_wait=check.rate_wait(max_rate_wait),
        )
        return await wait_for_job(self._ops, kb, job_id, seconds=seconds, limits=limits)

    def wait_for_import_jobs(
        self,
        jobs: Iterable[ImportJob | tuple[str, str]],
        *,
        deadline: float | None = None,
    ) -> Listing[ImportJob]:
        """Each job once it has ended, in the order they end: a stream, as a listing is.

        ``jobs``: ImportJobs, or (knowledge base ID or ARN, job ID) pairs, across any number
        of knowledge bases. A job that ended FAILED is yielded too (with its
        ``failed_record_report``), not raised: a batch wants them all. Per KB, each look takes
        the cheaper way: a GetImportJob per job still running, or one ListImportJobs listing
        when its pages are fewer (a COMPLETE job seen so is its summary, without URLs).
        ``deadline``: seconds the whole wait may take (default: the retry policy's); past
        it, DeadlineExceededError. ``async for``, ``aclose()``, ``async with``.
        """
        pairs = dict.fromkeys(
            (self._kb(kb).id, job_id) for kb, job_id in check.jobs_to_wait_for(jobs)
        )
        return Listing(
            functools.partial(
                wait_for_jobs, self._ops, list(pairs), deadline=check.deadline(deadline)
            ),
            resumable=False,
            name=f"waiting for {len(pairs)} import jobs",
        )

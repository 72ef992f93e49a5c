"""Managing import jobs: upload and start, get, delete, wait.

Every service call and every PUT is a method of the client's operations object (``_ops``),
so it goes through the client's sender: a concurrency slot, the send rate, the retry policy.
Invariants:

* One clientToken per ``start_import_job`` call, chosen before the first attempt: however
  often StartImportJob is retried, the service makes one job.
* A PUT refused because its URL expired (S3's 403 "Request has expired", or known expired
  before sending) gets a fresh StartContentUpload and URL, at most ``MAX_UPLOADS`` times.
* The waiter polls GetImportJob: the first poll at once, then ever slower up to a cap, each
  poll paced by the send rate like any request; the whole wait is bounded by its timeout
  on the loop's clock, and cancelling it leaves no task behind (it owns none).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._config import is_testing
from ._decode import ContentUpload
from ._errors import AccessDeniedError, DeadlineExceededError, ImportJobFailedError
from ._ops import NO_LIMITS, Limits, Ops
from ._upload import file_size, is_expired_url
from .models import ImportJob, ImportJobStatus

__all__ = ["MAX_UPLOADS", "poll_delay", "start_job", "wait_for_job"]

#: Fresh uploads (StartContentUpload and PUT) tried when URLs keep expiring before the PUT.
MAX_UPLOADS = 3
#: The waiter's first wait after a poll that saw the job running, and its growth and cap:
#: an import of a hundred quick responses takes seconds, a large one minutes.
FIRST_POLL_DELAY = 1.0
POLL_GROWTH = 1.5
MAX_POLL_DELAY = 15.0
# Statuses after which a job can no longer become COMPLETE.
_ENDED = frozenset(
    {
        ImportJobStatus.FAILED,
        ImportJobStatus.DELETE_IN_PROGRESS,
        ImportJobStatus.DELETE_FAILED,
        ImportJobStatus.DELETED,
    }
)
_KNOWN = frozenset(ImportJobStatus)

logger = logging.getLogger("qconnect_async")
_unknown_logged: set[str] = set()


def poll_delay(polls: int) -> float:
    """Seconds to wait after the ``polls``-th poll (1-based) saw the job still running."""
    if is_testing():
        return 0.0
    return min(MAX_POLL_DELAY, FIRST_POLL_DELAY * POLL_GROWTH ** min(polls - 1, 64))


async def start_job(
    ops: Ops,
    kb: str,
    content: bytes | Path,
    *,
    import_job_type: str,
    content_type: str,
    metadata: Mapping[str, str] | None,
    external_source_configuration: Mapping[str, Any] | None,
    client_token: str | None,
    limits: Limits = NO_LIMITS,
) -> ImportJob:
    """StartContentUpload, the PUT, then StartImportJob; the started job (all within limits)."""
    size = (
        len(content) if isinstance(content, bytes) else await asyncio.to_thread(file_size, content)
    )
    token = client_token or str(uuid.uuid4())
    upload = await _upload(ops, kb, content, size, content_type, limits)
    return await ops.start_import_job(
        kb,
        upload.upload_id,
        import_job_type=import_job_type,
        client_token=token,
        metadata=metadata,
        external_source_configuration=external_source_configuration,
        limits=limits,
    )


async def _upload(
    ops: Ops, kb: str, content: bytes | Path, size: int, content_type: str, limits: Limits
) -> ContentUpload:
    """A content upload whose PUT succeeded; a new one each time a URL expired first."""
    for round_ in range(1, MAX_UPLOADS + 1):
        upload = await ops.start_content_upload(kb, content_type, limits)
        try:
            await ops.put(kb, upload, content, size, limits)
        except AccessDeniedError as error:
            if not is_expired_url(error) or round_ == MAX_UPLOADS:
                raise
            logger.debug(
                "the upload URL expired before the PUT (knowledge_base_id=%s, upload_id=%s): "
                "starting a new upload",
                kb,
                upload.upload_id,
            )
            continue
        return upload
    raise AssertionError("unreachable: the last round returns or raises")


async def wait_for_job(
    ops: Ops, kb: str, job_id: str, *, seconds: float, limits: Limits = NO_LIMITS
) -> ImportJob:
    """Poll until the job is COMPLETE (returned), FAILED (raised), or ``seconds`` pass.

    ``limits.deadline``, when sooner, ends the wait as ``seconds`` would.
    """
    loop = asyncio.get_running_loop()
    ends = loop.time() + seconds
    if limits.deadline is not None and limits.deadline < ends:
        ends = limits.deadline
        seconds = max(0.0, ends - loop.time())
    limit = asyncio.timeout_at(ends)
    try:
        async with limit:
            polls = 0
            while True:
                job = await ops.get_import_job(kb, job_id, limits)
                polls += 1
                if job.status == ImportJobStatus.COMPLETE:
                    return job
                if job.status in _ENDED:
                    raise _failed(job, kb)
                if job.status not in _KNOWN:
                    _log_unknown(str(job.status), kb, job_id)
                await asyncio.sleep(poll_delay(polls))
    except TimeoutError as exc:
        if not limit.expired():
            raise  # a timeout of someone else's
        raise DeadlineExceededError(
            f"import job {job_id} did not finish within {seconds:g} s",
            operation="GetImportJob",
            knowledge_base_id=kb,
        ) from exc


def _failed(job: ImportJob, kb: str) -> ImportJobFailedError:
    what = "failed" if job.status == ImportJobStatus.FAILED else f"ended {job.status}"
    return ImportJobFailedError(
        f"import job {job.import_job_id} {what}",
        job=job,
        operation="GetImportJob",
        knowledge_base_id=kb,
        upload_id=job.upload_id,
    )


def _log_unknown(status: str, kb: str, job_id: str) -> None:
    # Once per status and process: a new status is news once, not on every poll of every job.
    if status in _unknown_logged:
        return
    _unknown_logged.add(status)
    logger.info(
        "import job %s of %s has status %r, unknown to this version: still waiting",
        job_id,
        kb,
        status,
    )

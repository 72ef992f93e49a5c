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
import hashlib
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._config import is_testing
from ._decode import ContentUpload
from ._errors import AccessDeniedError, ConflictError, DeadlineExceededError, ImportJobFailedError
from ._idempotency import START_KEY, StartRequest, start_mark, started_before
from ._ops import NO_LIMITS, Limits, Ops
from ._upload import file_size, is_expired_url
from .models import ImportJob, ImportJobStatus

__all__ = ["ENDED", "MAX_UPLOADS", "poll_delay", "start_job", "wait_for_job"]

#: Fresh uploads (StartContentUpload and PUT) tried when URLs keep expiring before the PUT.
MAX_UPLOADS = 3
#: The waiter's first wait after a poll that saw the job running, and its growth and cap:
#: an import of a hundred quick responses takes seconds, a large one minutes.
FIRST_POLL_DELAY = 1.0
POLL_GROWTH = 1.5
MAX_POLL_DELAY = 15.0
#: Statuses after which a job can no longer become COMPLETE.
ENDED = frozenset(
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
    content: bytes | Path | None,
    *,
    upload_id: str | None,
    import_job_type: str,
    content_type: str,
    metadata: Mapping[str, str] | None,
    external_source_configuration: Mapping[str, Any] | None,
    client_token: str | None,
    url_ttl: int | None,
    limits: Limits = NO_LIMITS,
) -> ImportJob:
    """StartContentUpload and the PUT (unless ``upload_id`` names one made), then
    StartImportJob (all within ``limits``); the started job, or the one the same
    ``client_token`` started before."""
    digest: str | None = None
    if upload_id is None:
        assert content is not None  # the client checks that one of the two is given
        size, digest = await _measure(content, hashed=client_token is not None)
        upload_id = (await _upload(ops, kb, content, size, content_type, url_ttl, limits)).upload_id
    if client_token is None:
        return await ops.start_import_job(
            kb,
            upload_id,
            import_job_type=import_job_type,
            client_token=str(uuid.uuid4()),
            metadata=metadata,
            external_source_configuration=external_source_configuration,
            limits=limits,
        )
    mark = start_mark(client_token, digest, upload_id)
    try:
        return await ops.start_import_job(
            kb,
            upload_id,
            import_job_type=import_job_type,
            client_token=client_token,
            metadata={**(metadata or {}), START_KEY: mark},
            external_source_configuration=external_source_configuration,
            limits=limits,
        )
    except ConflictError as conflict:
        # The token was used before with other parameters: by an earlier start of the same
        # content (another upload, so another uploadId), or for something else.
        request = StartRequest(
            mark, upload_id, import_job_type, metadata, external_source_configuration
        )
        job = await started_before(ops, kb, request, conflict)
        if job is None:
            raise
        return job


async def _measure(content: bytes | Path, *, hashed: bool) -> tuple[int, str | None]:
    """The content's size, and its SHA-256 when ``hashed`` (a file is read in a thread)."""
    if isinstance(content, bytes):
        return len(content), hashlib.sha256(content).hexdigest() if hashed else None
    size = await asyncio.to_thread(file_size, content)
    return size, await asyncio.to_thread(_file_digest, content) if hashed else None


def _file_digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


async def _upload(
    ops: Ops,
    kb: str,
    content: bytes | Path,
    size: int,
    content_type: str,
    url_ttl: int | None,
    limits: Limits,
) -> ContentUpload:
    """A content upload whose PUT succeeded; a new one each time a URL expired first."""
    for round_ in range(1, MAX_UPLOADS + 1):
        upload = await ops.start_content_upload(kb, content_type, limits, url_ttl=url_ttl)
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
                if job.status in ENDED:
                    raise _failed(job, kb, ops.where)
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
            **ops.where,
        ) from exc


def _failed(job: ImportJob, kb: str, where: Mapping[str, Any]) -> ImportJobFailedError:
    what = "failed" if job.status == ImportJobStatus.FAILED else f"ended {job.status}"
    return ImportJobFailedError(
        f"import job {job.import_job_id} {what}",
        job=job,
        operation="GetImportJob",
        knowledge_base_id=kb,
        upload_id=job.upload_id,
        **where,
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

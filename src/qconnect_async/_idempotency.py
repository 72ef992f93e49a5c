"""Idempotent starts across calls and processes: the same client_token, the same job.

The service binds a clientToken to the parameters of the StartImportJob that first used it,
the uploadId included; a repeated start of the same content makes a new upload, so the
service answers 409. To tell "this start happened before" from "this token means something
else", a start given a ``client_token`` records one metadata entry, ``START_KEY``: a digest of
the token and of the content (its SHA-256; or the upload, when starting from ``upload_id``).
On the 409 alone, the KB's import jobs are listed to find the job carrying the same token
digest: the same content (or upload) and parameters return it; other content is a
ConflictError that says so; no such job leaves the service's 409 as it was.

Cost: nothing extra while there is no conflict (the digest rides on the one StartImportJob);
after a 409, one ListImportJobs page per 100 jobs of the KB, stopping at the job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._checks import MAX_PAGE_SIZE
from ._errors import ConflictError
from ._listing import LoopGuard
from .models import ImportJob

if TYPE_CHECKING:
    from ._ops import Ops

__all__ = ["START_KEY", "StartRequest", "start_mark", "started_before"]

#: The metadata key a start with a client_token records its token and content digest under.
START_KEY = "qconnect-async:start"
_VERSION = "v1"


def start_mark(client_token: str, content_sha256: str | None, upload_id: str) -> str:
    """START_KEY's value: the token's digest, then the content's (or the upload's ID)."""
    token = hashlib.sha256(client_token.encode()).hexdigest()[:32]
    content = f"sha256:{content_sha256}" if content_sha256 else f"upload:{upload_id}"
    return f"{_VERSION} {token} {content}"


def _token_of(mark: str) -> str | None:
    parts = mark.split(" ", 2)
    return parts[1] if len(parts) == 3 and parts[0] == _VERSION else None


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What a start asked for, to compare with the job an earlier start made."""

    mark: str
    upload_id: str
    import_job_type: str
    metadata: Mapping[str, str] | None
    external_source_configuration: Mapping[str, Any] | None

    def same_content(self, job: ImportJob) -> bool:
        """Whether ``job`` imports what this start imports (same digest, or same upload)."""
        return (job.metadata or {}).get(START_KEY) == self.mark or job.upload_id == self.upload_id

    def same_parameters(self, job: ImportJob) -> bool:
        """Whether ``job`` was started with this start's other parameters."""
        theirs = {k: v for k, v in (job.metadata or {}).items() if k != START_KEY}
        source = job.external_source_configuration
        wire = None if source is None else source.model_dump(by_alias=True, mode="json")
        return (
            str(job.import_job_type) == self.import_job_type
            and theirs == dict(self.metadata or {})
            and wire
            == (
                None
                if self.external_source_configuration is None
                else dict(self.external_source_configuration)
            )
        )


async def started_before(
    ops: Ops, kb: str, request: StartRequest, conflict: ConflictError
) -> ImportJob | None:
    """The job an earlier start with the same token made; None if no job carries it.

    A job that carries the token but imports other content, or with other parameters, is a
    ConflictError saying so.
    """
    token = _token_of(request.mark)
    guard = LoopGuard(None, ops.where)
    page_token: str | None = None
    while True:
        page = await ops.list_import_jobs(
            kb,
            page_size=MAX_PAGE_SIZE,
            token=page_token,
            deadline=None,
            upload_id=request.upload_id,
        )
        for job in page.items:
            mark = (job.metadata or {}).get(START_KEY)
            if mark is None or _token_of(mark) != token:
                continue
            if request.same_content(job) and request.same_parameters(job):
                return job
            what = "other content" if not request.same_content(job) else "other parameters"
            raise ConflictError(
                f"the client_token was used before for {what}: import job "
                f"{job.import_job_id} of this knowledge base; give new content a new token",
                http_status=conflict.http_status,
                request_id=conflict.request_id,
                operation=conflict.operation,
                knowledge_base_id=kb,
                upload_id=request.upload_id,
                account_id=conflict.account_id,
                region=conflict.region,
            ) from conflict
        if not page.next_token:
            return None
        guard.check(page.next_token, sent=page_token, operation="ListImportJobs", kb=kb)
        page_token = page.next_token

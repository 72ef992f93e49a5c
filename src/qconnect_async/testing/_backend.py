"""The QConnect backend: knowledge bases, import jobs and uploads of one account in one Region,
and their lifecycle.

moto's BackendDict keeps one QConnectBackend per account and Region, so `POST /moto-api/reset`
clears it like any moto service. The server is threaded: every public method of the backend takes
its lock. A job started or deleted over the API is in progress (START_IN_PROGRESS,
DELETE_IN_PROGRESS) until the server's JobCompletion turns it COMPLETE or FAILED (rows refused by
`_rows`), or DELETED; every time is the server's clock (`now`), which a test may set off the
host's.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from moto.core.base_backend import BackendDict, BaseBackend

from ._model import knowledge_base_arn, new_id, split_knowledge_base_ref
from ._records import (
    COMPLETE,
    DELETE_IN_PROGRESS,
    DELETED,
    FAILED,
    IN_PROGRESS,
    SSE_HEADER,
    SSE_VALUE,
    START_IN_PROGRESS,
    STATUS_CYCLE,
    UPLOAD_PREFIX,
    ConflictException,
    Files,
    ImportJob,
    KnowledgeBase,
    PageTokens,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    Upload,
    ValidationException,
    as_datetime,
    epoch,
)
from ._rows import failed_record_report
from ._state import RequestContext

#: The module moto imports as `moto.qconnect` (`_moto.register` points it at `_moto`).
MODULE_ALIAS = "moto.qconnect"

#: presignedUrlTimeToLive when the request names none (the model allows 1..60).
DEFAULT_URL_MINUTES = 60
#: The StartImportJob members a clientToken is bound to.
_START_INPUTS = ("uploadId", "importJobType", "metadata", "externalSourceConfiguration")


class QConnectBackend(BaseBackend):
    """Knowledge bases and import jobs of one account in one region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.knowledge_bases: dict[str, KnowledgeBase] = {}
        self._seq = 0
        self._tokens = PageTokens()
        self.uploads: dict[str, Upload] = {}  # by uploadId
        self.uploads_by_key: dict[str, Upload] = {}  # by the key in the presigned URL
        self.files = Files(account_id, region_name)
        # (KB ID, clientToken) -> (the request it came with, the job it made)
        self.client_tokens: dict[tuple[str, str], tuple[str, str]] = {}

    @property
    def _url_module(self) -> Any:
        # moto reads url_bases and url_paths from `<package>.urls` of the backend's module
        # by default; ours are in the module registered as moto.qconnect (`_moto`).
        return sys.modules[MODULE_ALIAS]

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- knowledge bases ------------------------------------------------------------------

    def create_knowledge_base(
        self,
        name: str,
        knowledge_base_type: str = "QUICK_RESPONSES",
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> KnowledgeBase:
        kb_id = new_id()
        data = {
            "knowledgeBaseId": kb_id,
            "knowledgeBaseArn": knowledge_base_arn(self.region_name, self.account_id, kb_id),
            "name": name,
            "knowledgeBaseType": knowledge_base_type,
            "status": "ACTIVE",
            "description": description,
            "tags": dict(tags) if tags else None,
        }
        with self.lock:
            kb = KnowledgeBase(self._next_seq(), {k: v for k, v in data.items() if v is not None})
            self.knowledge_bases[kb_id] = kb
            return kb

    def get_knowledge_base(self, ref: str) -> KnowledgeBase:
        """The KB an ID or ARN names; 400 if it is neither, 404 if it does not exist."""
        parts = split_knowledge_base_ref(ref)
        if parts is None:
            raise ValidationException(f"Invalid knowledge base identifier: '{ref}'")
        kb_id, region, account = parts
        with self.lock:
            kb = self.knowledge_bases.get(kb_id)
        foreign = (region, account) not in ((None, None), (self.region_name, self.account_id))
        if kb is None or foreign:
            raise ResourceNotFoundException(f"Knowledge base {ref} not found", resource_name=kb_id)
        return kb

    def list_knowledge_bases(
        self, params: Mapping[str, Any], context: RequestContext
    ) -> tuple[list[KnowledgeBase], str | None]:
        """One page of KBs and the next page's token; see `list_import_jobs`."""
        with self.lock:
            kbs = list(self.knowledge_bases.values())
            return self._tokens.page(
                kbs, [kb.seq for kb in kbs], "knowledge-bases", params, context
            )

    # -- import jobs ----------------------------------------------------------------------

    def new_import_job(
        self,
        kb: KnowledgeBase,
        now: float,
        status: str,
        members: Mapping[str, Any],
        *,
        raw: bool = False,
    ) -> ImportJob:
        """Store a job of `kb` created at `now`: a valid summary with `members` set (None
        removes one); callers validate. A `raw` job keeps its summary as given (see ImportJob);
        its ID is a new one if the summary's is not a fresh string."""
        summary = _summary(kb, status, now)
        for name, value in members.items():
            if value is None:
                summary.pop(name, None)
            else:
                summary[name] = value
        with self.lock:
            job_id = summary.get("importJobId")
            if not isinstance(job_id, str) or job_id in kb.jobs_by_id:
                job_id = new_id()
            job = ImportJob(self._next_seq(), job_id, summary, raw=raw)
            kb.add(job)
            return job

    def seed_import_jobs(
        self,
        kb: KnowledgeBase,
        count: int,
        *,
        status: str | None = None,
        import_job_type: str = "QUICK_RESPONSES",
        metadata: Mapping[str, str] | None = None,
        external_source: bool | None = None,
        now: float,
    ) -> list[str]:
        """Store `count` jobs, varied where the caller leaves a field as None."""
        with self.lock:
            ids = []
            for i in range(len(kb.jobs), len(kb.jobs) + count):
                if metadata is not None:
                    meta: dict[str, str] | None = dict(metadata)
                else:
                    meta = (None, {"source": "seed", "batch": str(i // 100)}, {})[i % 3]
                source = None
                if (i % 4 == 1) if external_source is None else external_source:
                    connect = {"connectConfiguration": {"instanceId": new_id()}}
                    source = {"source": "AMAZON_CONNECT", "configuration": connect}
                members = {
                    "importJobType": import_job_type,
                    "metadata": meta,
                    "externalSourceConfiguration": source,
                }
                seeded = status or STATUS_CYCLE[i % len(STATUS_CYCLE)]
                job = self.new_import_job(kb, now - 86_400.0 + i * 0.5, seeded, members)
                ids.append(job.import_job_id)
            return ids

    def get_import_job(
        self, params: Mapping[str, Any], context: RequestContext, *, read: bool = True
    ) -> ImportJob:
        """The job `params` name, moved along by this read (unless `read` is False)."""
        kb = self.get_knowledge_base(params["knowledgeBaseId"])
        job_id = params["importJobId"]
        with self.lock:
            job = kb.jobs_by_id.get(job_id)
            if job is None:
                message = f"Import job {job_id} not found"
                raise ResourceNotFoundException(message, resource_name=job_id)
            job.observe(context.now, read=read)
            return job

    def delete_import_job(self, params: Mapping[str, Any], context: RequestContext) -> None:
        """Start deleting a finished job: DELETE_IN_PROGRESS, then DELETED over the settings'
        job completion.

        A job still starting is a 409 (the service's rule); a job already being deleted or
        deleted stays as it is (the operation is idempotent). A raw job goes at once.
        """
        with self.lock:
            # A delete is not a read: it never moves a job along by itself.
            job = self.get_import_job(params, context, read=False)
            if job.raw:
                self.get_knowledge_base(params["knowledgeBaseId"]).remove(job)
            elif job.status == START_IN_PROGRESS:
                raise ConflictException(
                    f"Import job {job.import_job_id} is still in progress and cannot be deleted"
                )
            elif job.status not in (DELETE_IN_PROGRESS, DELETED):
                job.begin(DELETE_IN_PROGRESS, DELETED, context.settings.completion, context.now)

    def job_data(self, job: ImportJob, context: RequestContext) -> dict[str, Any]:
        """The ImportJobData of GetImportJob and StartImportJob, with fresh download links."""
        with self.lock:
            if job.content_key is None:
                # A seeded job: what it imported is a quick-response CSV of no rows.
                job.content_key = self.files.store(b"Name,Content\n", "text/csv")
            if job.status == FAILED and job.report_key is None:
                job.report_key = self.files.store(b"RowNumber,ErrorMessage\n", "text/csv")
            data = dict(job.summary)
            data["createdTime"] = as_datetime(data["createdTime"])
            data["lastModifiedTime"] = as_datetime(data["lastModifiedTime"])
            data["url"], expiry = self.files.link(job.content_key, context.base_url, context.now)
            data["urlExpiry"] = as_datetime(expiry)
            if job.report_key is not None:
                report = self.files.link(job.report_key, context.base_url, context.now)
                data["failedRecordReport"] = report[0]
            return data

    # -- uploads and started jobs -----------------------------------------------------------

    def start_content_upload(self, params: Mapping[str, Any], context: RequestContext) -> Upload:
        """A new upload and its presigned PUT URL, expiring on the server's clock."""
        kb = self.get_knowledge_base(params["knowledgeBaseId"])
        ttl = (params.get("presignedUrlTimeToLive") or DEFAULT_URL_MINUTES) * 60
        key, signature = secrets.token_urlsafe(12), secrets.token_hex(32)
        headers = {"Content-Type": params["contentType"], SSE_HEADER: SSE_VALUE}
        query = urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Expires": str(ttl),
                "X-Amz-SignedHeaders": ";".join(sorted(["host", *(h.lower() for h in headers)])),
                "X-Amz-Signature": signature,
            }
        )
        path = f"{UPLOAD_PREFIX}{quote(self.account_id)}/{quote(self.region_name)}/{key}"
        upload = Upload(
            upload_id=f"{kb.knowledge_base_id}/{new_id()}",
            knowledge_base_id=kb.knowledge_base_id,
            key=key,
            signature=signature,
            url=f"{context.base_url}{path}?{query}",
            headers=headers,
            expires_at=context.now + ttl,
        )
        with self.lock:
            self.uploads[upload.upload_id] = upload
            self.uploads_by_key[upload.key] = upload
        return upload

    def store_upload(self, upload: Upload, body: bytes) -> None:
        with self.lock:
            upload.body = body

    def start_import_job(self, params: Mapping[str, Any], context: RequestContext) -> ImportJob:
        """StartImportJob: idempotent by clientToken, reads the upload, checks its rows.

        Only a QUICK_RESPONSES knowledge base takes an import (400 otherwise); at most the
        settings' job quota of a KB's jobs start at once (402).
        """
        kb = self.get_knowledge_base(params["knowledgeBaseId"])
        upload_id = params["uploadId"]
        inputs = {name: params.get(name) for name in _START_INPUTS}
        request = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
        token = params.get("clientToken")
        kb_id, quota = kb.knowledge_base_id, context.settings.job_quota
        if kb.data["knowledgeBaseType"] != "QUICK_RESPONSES":
            raise ValidationException(
                f"Knowledge base {kb_id} is of type {kb.data['knowledgeBaseType']}: "
                "quick responses are imported into a QUICK_RESPONSES knowledge base"
            )
        with self.lock:
            if token is not None and (kb_id, token) in self.client_tokens:
                seen, job_id = self.client_tokens[(kb_id, token)]
                if seen != request:
                    raise ConflictException(
                        "The clientToken was used before with different parameters"
                    )
                earlier = kb.jobs_by_id.get(job_id)
                if earlier is not None and not earlier.raw:
                    return earlier
            upload = self.uploads.get(upload_id)
            if upload is None or upload.knowledge_base_id != kb_id:
                raise ResourceNotFoundException(
                    f"Upload {upload_id} not found", resource_name=upload_id
                )
            if upload.body is None:
                raise ValidationException(f"Nothing was uploaded for upload {upload_id}")
            running = sum(1 for j in kb.jobs if not j.raw and j.status == START_IN_PROGRESS)
            if quota is not None and running >= quota:
                raise ServiceQuotaExceededException(
                    f"Knowledge base {kb_id} already has {running} import jobs in progress"
                )
            report = failed_record_report(upload.body)
            job = self.new_import_job(kb, context.now, START_IN_PROGRESS, inputs)
            job.begin(START_IN_PROGRESS, COMPLETE, context.settings.completion, context.now)
            job.content_key = self.files.store(upload.body, upload.headers["Content-Type"])
            if report is not None:
                job.final_status = FAILED
                job.pending_report = self.files.store(report, "text/csv")
            if token is not None:
                self.client_tokens[(kb_id, token)] = (request, job.import_job_id)
            return job

    def list_import_jobs(
        self, params: Mapping[str, Any], context: RequestContext
    ) -> tuple[list[bytes], str | None]:
        """One page of summaries, JSON-encoded, and the next page's token (None: last page).

        Errors (an unknown KB, a bad token) are raised before any job is read. Under the
        `empty_page` fault: no jobs and a fresh token for the same position, as services do
        when a page happens to be empty; a client must follow it. Under `hide_running`: the
        page without its jobs in progress (not read, so not moved on by the listing).
        """
        kb = self.get_knowledge_base(params["knowledgeBaseId"])
        with self.lock:
            page, token = self._tokens.page(
                kb.jobs, kb.job_seqs, kb.knowledge_base_id, params, context
            )
            if context.page_fault == "hide_running":
                page = [job for job in page if job.status not in IN_PROGRESS]
            for job in page:
                job.observe(context.now)
            return [job.wire_json() for job in page], token


def _summary(kb: KnowledgeBase, status: str, now: float) -> dict[str, Any]:
    """A valid ImportJobSummary of a new job of `kb`, created at `now`, in the model's order."""
    return {
        "importJobId": new_id(),
        "knowledgeBaseId": kb.knowledge_base_id,
        "uploadId": f"{new_id()}/{new_id()}",
        "knowledgeBaseArn": kb.data["knowledgeBaseArn"],
        "importJobType": "QUICK_RESPONSES",
        "status": status,
        "createdTime": epoch(now),
        "lastModifiedTime": epoch(now if status == START_IN_PROGRESS else now + 60.0),
    }


# moto's get_backend("qconnect") reads `moto.qconnect.qconnect_backends`.
qconnect_backends = BackendDict(QConnectBackend, "qconnect")
_regions_lock = threading.Lock()


def backend_for(account_id: str, region: str) -> QConnectBackend:
    """The backend of an account and region; any region, not only qconnect's ten."""
    regions = qconnect_backends[account_id]
    if region not in regions:
        # moto refuses a region the service is not offered in (a KeyError, so a 500); a local
        # fake serves whatever region a client is configured with.
        with _regions_lock:
            if region not in regions:
                regions[region] = QConnectBackend(region, account_id)
    return regions[region]


def every_backend() -> Iterator[QConnectBackend]:
    """The backend of every account and Region that has one."""
    for _, _, backend in qconnect_backends.iter_backends():
        if isinstance(backend, QConnectBackend):
            yield backend

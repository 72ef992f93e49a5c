"""The QConnect backend: its data (knowledge bases, import jobs, uploads), their lifecycle, and
its registration with moto.

moto has no plugin API (getmoto/moto#7126 was declined), so `register()` leans on two internals,
both pinned by tests/test_server_registration.py:

* `moto.backends.get_backend(name)` imports `moto.<name>` and reads `<name>_backends`: an alias
  in sys.modules makes `moto.qconnect` this module.
* moto's server picks a backend by matching `http://<host>` against
  `moto.backend_index.backend_url_patterns`; a SigV4 request signed for `wisdom` is given the host
  `wisdom.<region>.amazonaws.com`, so one pattern more routes it to us.

moto's BackendDict keeps one QConnectBackend per account and region, so `POST /moto-api/reset`
clears it like any moto service. The server is threaded: every public method of the backend takes
its lock. Errors are the service's modelled ones: each `code` names an error shape of botocore's
qconnect model, so moto's serialiser takes the HTTP status (400, 402, 404, 409) from the model.

A job started or deleted over the API is in progress (START_IN_PROGRESS, DELETE_IN_PROGRESS)
until the server's JobCompletion turns it COMPLETE or FAILED (rows refused by `_rows`), or
DELETED; every time is the server's clock (`now`), which a test may set off the host's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException

from ._ids import knowledge_base_arn, new_id, split_knowledge_base_ref
from ._rows import failed_record_report

if TYPE_CHECKING:
    from ._control import JobCompletion

# -- registration with moto -----------------------------------------------------------------------
SERVICE_NAME = "qconnect"
MODULE_ALIAS = f"moto.{SERVICE_NAME}"
URL_PATTERN = re.compile(r"https?://wisdom\.(.+)\.amazonaws\.com")

_lock = threading.Lock()


def register() -> None:
    """Register the backend with moto; idempotent and thread-safe."""
    import moto.backend_index as backend_index

    with _lock:
        sys.modules[MODULE_ALIAS] = sys.modules[__name__]
        patterns = backend_index.backend_url_patterns
        if not any(name == SERVICE_NAME for name, _ in patterns):
            # In place: moto's dispatcher holds a reference to this very list.
            patterns.append((SERVICE_NAME, URL_PATTERN))


# -- the service's errors -------------------------------------------------------------------------
class ValidationException(ServiceException):
    """Input that breaks the model's constraints (400)."""

    code = "ValidationException"


class ResourceNotFoundException(ServiceException):
    """An unknown knowledge base or import job (404)."""

    code = "ResourceNotFoundException"

    def __init__(self, message: str, resource_name: str | None = None) -> None:
        super().__init__(message)
        # Serialised as the shape's `resourceName` member.
        self.resource_name = resource_name


class ConflictException(ServiceException):
    """A request that clashes with the current state (409)."""

    code = "ConflictException"


class ServiceQuotaExceededException(ServiceException):
    """A quota of the account or knowledge base is used up (402)."""

    code = "ServiceQuotaExceededException"


# -- page tokens ----------------------------------------------------------------------------------
# Opaque, bound to one listing, refused when forged or foreign.
class PageTokens:
    """Mints and reads the nextToken of listings; one key per backend."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:24]

    def encode(self, scope: str, after_seq: int) -> str:
        """A token resuming the listing `scope` after the record numbered `after_seq`."""
        # A nonce makes every token distinct, even two for the same position.
        payload = f"{scope}|{after_seq}|{secrets.token_hex(4)}"
        raw = f"{payload}|{self._sign(payload)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str | None, scope: str) -> int:
        """The position a token resumes after (0: the start); 400 for any other token."""
        if token is None:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            token_scope, after, nonce, signature = raw.split("|")
            valid = hmac.compare_digest(signature, self._sign(f"{token_scope}|{after}|{nonce}"))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            valid = False
        if not valid:
            raise ValidationException("The nextToken is not valid")
        if token_scope != scope:
            raise ValidationException("The nextToken was issued for another listing")
        return int(after)


# -- records and their wire forms -----------------------------------------------------------------
START_IN_PROGRESS = "START_IN_PROGRESS"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETED = "DELETED"
#: The statuses a job leaves by itself, over the server's job-completion settings.
IN_PROGRESS = (START_IN_PROGRESS, DELETE_IN_PROGRESS)
# Seeded jobs cycle through every status of the model, most of them finished.
STATUS_CYCLE = (
    "COMPLETE",
    "COMPLETE",
    "FAILED",
    "COMPLETE",
    "START_IN_PROGRESS",
    "COMPLETE",
    "DELETE_IN_PROGRESS",
    "COMPLETE",
    "DELETE_FAILED",
    "DELETED",
)


def epoch(seconds: float) -> float:
    """Millisecond precision, as the service sends epoch-seconds timestamps."""
    return round(seconds, 3)


def _as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(eq=False, slots=True)
class ImportJob:
    """A modelled import job; `wire()` is its ImportJobSummary as sent."""

    seq: int
    import_job_id: str
    knowledge_base_id: str
    knowledge_base_arn: str
    upload_id: str
    import_job_type: str
    status: str
    created_time: float
    last_modified_time: float
    metadata: dict[str, str] | None = None
    external_source_configuration: dict[str, Any] | None = None
    #: The files behind `url` (what was imported) and `failedRecordReport` (`Files` keys).
    content_key: str | None = None
    report_key: str | None = None
    reads_left: int | None = None
    complete_at: float | None = None
    #: What a job in progress turns into once due: COMPLETE, FAILED (with `pending_report`)
    #: or, for a delete, DELETED.
    final_status: str = COMPLETE
    pending_report: str | None = None
    _wire: dict[str, Any] | None = field(default=None, repr=False)
    _json: bytes | None = field(default=None, repr=False)

    def begin(self, status: str, final_status: str, completion: JobCompletion, now: float) -> None:
        """Enter `status` (in progress) until `completion` turns it into `final_status`."""
        self.status, self.final_status = status, final_status
        self.reads_left = completion.after_reads
        if completion.after_seconds is not None:
            self.complete_at = now + completion.after_seconds
        self.last_modified_time = epoch(max(now, self.created_time))
        self._wire = self._json = None

    def observe(self, now: float, *, read: bool = True) -> None:
        """Count one read (unless `read` is False), and finish when the job's time has come."""
        if self.status not in IN_PROGRESS:
            return
        due = self.complete_at is not None and now >= self.complete_at
        if not due and self.reads_left is not None and read:
            due = self.reads_left <= 0
            self.reads_left -= 1
        if due:
            self.status, self.complete_at = self.final_status, None
            if self.final_status == FAILED:
                self.report_key = self.pending_report
            self.last_modified_time = epoch(max(now, self.created_time))
            self._wire = self._json = None

    def wire(self) -> dict[str, Any]:
        """The ImportJobSummary on the wire (camelCase, epoch seconds); cached, read-only."""
        if self._wire is None:
            summary: dict[str, Any] = {
                "importJobId": self.import_job_id,
                "knowledgeBaseId": self.knowledge_base_id,
                "uploadId": self.upload_id,
                "knowledgeBaseArn": self.knowledge_base_arn,
                "importJobType": self.import_job_type,
                "status": self.status,
                "createdTime": self.created_time,
                "lastModifiedTime": self.last_modified_time,
            }
            if self.metadata is not None:
                summary["metadata"] = self.metadata
            if self.external_source_configuration is not None:
                summary["externalSourceConfiguration"] = self.external_source_configuration
            self._wire = summary
        return self._wire

    def wire_json(self) -> bytes:
        """`wire()` encoded as JSON; cached with it (pages join these bytes)."""
        if self._json is None:
            self._json = json.dumps(self.wire()).encode()
        return self._json


@dataclass(eq=False, slots=True)
class RawImportJob:
    """A summary sent verbatim, whatever it holds: for clients' robustness tests."""

    seq: int
    import_job_id: str
    body: dict[str, Any]
    _json: bytes | None = field(default=None, repr=False)

    def observe(self, now: float, *, read: bool = True) -> None:
        """Raw jobs never change."""

    def wire(self) -> dict[str, Any]:
        return self.body

    def wire_json(self) -> bytes:
        if self._json is None:
            self._json = json.dumps(self.body).encode()
        return self._json


Job = ImportJob | RawImportJob


@dataclass(eq=False)
class KnowledgeBase:
    """A knowledge base and its import jobs, in creation order."""

    seq: int
    knowledge_base_id: str
    knowledge_base_arn: str
    name: str
    knowledge_base_type: str
    status: str = "ACTIVE"
    description: str | None = None
    tags: dict[str, str] | None = None
    jobs: list[Job] = field(default_factory=list)
    job_seqs: list[int] = field(default_factory=list)
    jobs_by_id: dict[str, Job] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """KnowledgeBaseData / KnowledgeBaseSummary for moto's serialiser."""
        data: dict[str, Any] = {
            "knowledgeBaseId": self.knowledge_base_id,
            "knowledgeBaseArn": self.knowledge_base_arn,
            "name": self.name,
            "knowledgeBaseType": self.knowledge_base_type,
            "status": self.status,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.tags:
            data["tags"] = self.tags
        return data

    def add(self, job: Job) -> None:
        self.jobs.append(job)
        self.job_seqs.append(job.seq)
        self.jobs_by_id[job.import_job_id] = job

    def remove(self, job: Job) -> None:
        index = bisect_right(self.job_seqs, job.seq) - 1
        del self.jobs[index], self.job_seqs[index]
        del self.jobs_by_id[job.import_job_id]


# -- uploads and downloads: presigned URLs --------------------------------------------------------
#: Where presigned URLs point: `/qconnect-uploads/<account>/<region>/<key>?X-Amz-...` (PUT) and
#: `/qconnect-files/<account>/<region>/<key>?X-Amz-Date=..&X-Amz-Expires=..&X-Amz-Signature=..`
#: (GET: an imported file, or a failed-record report).
UPLOAD_PREFIX = "/qconnect-uploads/"
FILES_PREFIX = "/qconnect-files/"
#: How long a download link minted by GetImportJob or StartImportJob stays valid.
DOWNLOAD_TTL_SECONDS = 3600
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
#: What StartContentUpload names besides Content-Type, as the service does for its KMS bucket.
SSE_HEADER = "x-amz-server-side-encryption"
SSE_VALUE = "aws:kms"


@dataclass(eq=False, slots=True)
class Upload:
    """One StartContentUpload: where its PUT goes, what it must carry, what arrived."""

    upload_id: str
    knowledge_base_id: str
    key: str
    signature: str
    url: str
    headers: dict[str, str]
    expires_at: float
    body: bytes | None = None


def new_upload(
    base_url: str,
    account_id: str,
    region: str,
    *,
    upload_id: str,
    knowledge_base_id: str,
    content_type: str,
    ttl_seconds: float,
    now: float,
) -> Upload:
    """A fresh upload and its presigned URL."""
    key, signature = secrets.token_urlsafe(12), secrets.token_hex(32)
    headers = {"Content-Type": content_type, SSE_HEADER: SSE_VALUE}
    query = urlencode(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Expires": str(int(ttl_seconds)),
            "X-Amz-SignedHeaders": ";".join(sorted(["host", *(h.lower() for h in headers)])),
            "X-Amz-Signature": signature,
        }
    )
    path = f"{UPLOAD_PREFIX}{quote(account_id)}/{quote(region)}/{key}"
    return Upload(
        upload_id=upload_id,
        knowledge_base_id=knowledge_base_id,
        key=key,
        signature=signature,
        url=f"{base_url}{path}?{query}",
        headers=headers,
        expires_at=now + ttl_seconds,
    )


class Files:
    """Files a GET of a presigned URL downloads: what a job imported, failed-record reports.

    A file's link names its key, when it was signed and for how long, with an HMAC of the
    three; a GET checks them on the server's clock. A link is reissued once it has expired, so
    reads in between answer the same URL.
    """

    def __init__(self, account_id: str, region: str) -> None:
        self._where = f"{FILES_PREFIX}{quote(account_id)}/{quote(region)}/"
        self._key = secrets.token_bytes(16)
        self._files: dict[str, tuple[bytes, str]] = {}
        self._signed_at: dict[str, float] = {}

    def store(self, body: bytes, content_type: str) -> str:
        """Keep a file; its key."""
        key = secrets.token_urlsafe(12)
        self._files[key] = (body, content_type)
        return key

    def _sign(self, key: str, date: str, ttl: str) -> str:
        return hmac.new(self._key, f"{key}|{date}|{ttl}".encode(), hashlib.sha256).hexdigest()

    def link(self, key: str, base_url: str, now: float) -> tuple[str, float]:
        """A presigned GET URL of the file and its expiry (Unix seconds)."""
        signed = self._signed_at.get(key)
        if signed is None or now >= signed + DOWNLOAD_TTL_SECONDS:
            signed = self._signed_at[key] = float(int(now))  # X-Amz-Date has whole seconds
        date = datetime.fromtimestamp(signed, UTC).strftime(_AMZ_DATE)
        ttl = str(DOWNLOAD_TTL_SECONDS)
        query = urlencode(
            {
                "X-Amz-Date": date,
                "X-Amz-Expires": ttl,
                "X-Amz-Signature": self._sign(key, date, ttl),
            }
        )
        return f"{base_url}{self._where}{key}?{query}", signed + DOWNLOAD_TTL_SECONDS

    def open(self, key: str, query: Mapping[str, str], now: float) -> tuple[bytes, str] | str:
        """(body, content type) of a valid link; else S3's reason to refuse it."""
        date, ttl = query.get("X-Amz-Date", ""), query.get("X-Amz-Expires", "")
        signature = query.get("X-Amz-Signature", "")
        found = self._files.get(key)
        if found is None or not hmac.compare_digest(signature, self._sign(key, date, ttl)):
            return "Access Denied"
        signed = datetime.strptime(date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
        if now >= signed + int(ttl):
            return "Request has expired"
        return found


# -- the backend ----------------------------------------------------------------------------------
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
        # moto derives `<package>.urls` from the backend's module name; ours lives elsewhere.
        from . import _service

        return _service

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
        with self.lock:
            kb_id = new_id()
            kb = KnowledgeBase(
                seq=self._next_seq(),
                knowledge_base_id=kb_id,
                knowledge_base_arn=knowledge_base_arn(self.region_name, self.account_id, kb_id),
                name=name,
                knowledge_base_type=knowledge_base_type,
                description=description,
                tags=dict(tags) if tags else None,
            )
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
        self, max_results: int, next_token: str | None, *, empty_page: bool = False
    ) -> tuple[list[KnowledgeBase], str | None]:
        """One page of KBs and the next page's token; see `list_import_jobs`."""
        with self.lock:
            kbs = list(self.knowledge_bases.values())
            after = self._tokens.decode(next_token, "knowledge-bases")
            if empty_page:
                return [], self._tokens.encode("knowledge-bases", after)
            start = bisect_right([kb.seq for kb in kbs], after)
            page = kbs[start : start + max_results]
            more = start + max_results < len(kbs)
            token = self._tokens.encode("knowledge-bases", page[-1].seq) if more else None
            return page, token

    # -- import jobs ----------------------------------------------------------------------

    def new_import_job(
        self,
        kb: KnowledgeBase,
        *,
        upload_id: str | None = None,
        import_job_type: str = "QUICK_RESPONSES",
        status: str = START_IN_PROGRESS,
        metadata: Mapping[str, str] | None = None,
        external_source_configuration: Mapping[str, Any] | None = None,
        now: float,
        completion: JobCompletion | None = None,
    ) -> ImportJob:
        """Create and store a job created at `now` (no validation: callers validate)."""
        with self.lock:
            job = ImportJob(
                seq=self._next_seq(),
                import_job_id=new_id(),
                knowledge_base_id=kb.knowledge_base_id,
                knowledge_base_arn=kb.knowledge_base_arn,
                upload_id=upload_id or f"{new_id()}/{new_id()}",
                import_job_type=import_job_type,
                status=status,
                created_time=epoch(now),
                last_modified_time=epoch(now if status == START_IN_PROGRESS else now + 60.0),
                metadata=dict(metadata) if metadata is not None else None,
                external_source_configuration=(
                    dict(external_source_configuration)
                    if external_source_configuration is not None
                    else None
                ),
            )
            if completion is not None and status == START_IN_PROGRESS:
                job.begin(START_IN_PROGRESS, COMPLETE, completion, now)
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
            start = len(kb.jobs)
            base = now - 86_400.0
            ids = []
            for offset in range(count):
                i = start + offset
                if metadata is not None:
                    meta: dict[str, str] | None = dict(metadata)
                else:
                    meta = (None, {"source": "seed", "batch": str(i // 100)}, {})[i % 3]
                with_source = (i % 4 == 1) if external_source is None else external_source
                job = self.new_import_job(
                    kb,
                    import_job_type=import_job_type,
                    status=status or STATUS_CYCLE[i % len(STATUS_CYCLE)],
                    metadata=meta,
                    external_source_configuration=(
                        {
                            "source": "AMAZON_CONNECT",
                            "configuration": {"connectConfiguration": {"instanceId": new_id()}},
                        }
                        if with_source
                        else None
                    ),
                    now=base + i * 0.5,
                )
                ids.append(job.import_job_id)
            return ids

    def add_raw_import_job(
        self, kb: KnowledgeBase, overrides: Mapping[str, Any], *, now: float
    ) -> str:
        """Store a summary built from a valid one with `overrides` applied (None removes)."""
        with self.lock:
            template = ImportJob(
                seq=0,
                import_job_id=new_id(),
                knowledge_base_id=kb.knowledge_base_id,
                knowledge_base_arn=kb.knowledge_base_arn,
                upload_id=new_id(),
                import_job_type="QUICK_RESPONSES",
                status=COMPLETE,
                created_time=epoch(now),
                last_modified_time=epoch(now),
            )
            body = dict(template.wire())
            for key, value in overrides.items():
                if value is None:
                    body.pop(key, None)
                else:
                    body[key] = value
            job_id = body.get("importJobId")
            if not isinstance(job_id, str) or job_id in kb.jobs_by_id:
                job_id = new_id()
            kb.add(RawImportJob(seq=self._next_seq(), import_job_id=job_id, body=body))
            return job_id

    def get_import_job(
        self, kb: KnowledgeBase, import_job_id: str, *, now: float, read: bool = True
    ) -> Job:
        with self.lock:
            job = kb.jobs_by_id.get(import_job_id)
            if job is None:
                raise ResourceNotFoundException(
                    f"Import job {import_job_id} not found", resource_name=import_job_id
                )
            job.observe(now, read=read)
            return job

    def delete_import_job(
        self, kb: KnowledgeBase, import_job_id: str, *, completion: JobCompletion, now: float
    ) -> None:
        """Start deleting a finished job: DELETE_IN_PROGRESS, then DELETED over `completion`.

        A job still starting is a 409 (the service's rule); a job already being deleted or
        deleted stays as it is (the operation is idempotent). A raw job goes at once.
        """
        with self.lock:
            # A delete is not a read: it never moves a job along by itself.
            job = self.get_import_job(kb, import_job_id, now=now, read=False)
            if isinstance(job, RawImportJob):
                kb.remove(job)
            elif job.status == START_IN_PROGRESS:
                raise ConflictException(
                    f"Import job {import_job_id} is still in progress and cannot be deleted"
                )
            elif job.status not in (DELETE_IN_PROGRESS, DELETED):
                job.begin(DELETE_IN_PROGRESS, DELETED, completion, now)

    def job_data(self, job: ImportJob, base_url: str, now: float) -> dict[str, Any]:
        """The ImportJobData of GetImportJob and StartImportJob, with fresh download links."""
        with self.lock:
            if job.content_key is None:
                # A seeded job: what it imported is a quick-response CSV of no rows.
                job.content_key = self.files.store(b"Name,Content\n", "text/csv")
            if job.status == FAILED and job.report_key is None:
                job.report_key = self.files.store(b"RowNumber,ErrorMessage\n", "text/csv")
            data = dict(job.wire())
            data["createdTime"] = _as_datetime(job.created_time)
            data["lastModifiedTime"] = _as_datetime(job.last_modified_time)
            data["url"], expiry = self.files.link(job.content_key, base_url, now)
            data["urlExpiry"] = _as_datetime(expiry)
            if job.report_key is not None:
                data["failedRecordReport"] = self.files.link(job.report_key, base_url, now)[0]
            return data

    # -- uploads and started jobs -----------------------------------------------------------

    def start_content_upload(
        self,
        kb: KnowledgeBase,
        content_type: str,
        ttl_minutes: int,
        base_url: str,
        *,
        now: float,
    ) -> Upload:
        """A new upload; `now`: the server's clock (its urlExpiry, checked by the PUT)."""
        with self.lock:
            upload = new_upload(
                base_url,
                self.account_id,
                self.region_name,
                upload_id=f"{kb.knowledge_base_id}/{new_id()}",
                knowledge_base_id=kb.knowledge_base_id,
                content_type=content_type,
                ttl_seconds=ttl_minutes * 60.0,
                now=now,
            )
            self.uploads[upload.upload_id] = upload
            self.uploads_by_key[upload.key] = upload
            return upload

    def store_upload(self, upload: Upload, body: bytes) -> None:
        with self.lock:
            upload.body = body

    def start_import_job(
        self,
        kb: KnowledgeBase,
        params: Mapping[str, Any],
        *,
        completion: JobCompletion,
        job_quota: int | None,
        now: float,
    ) -> ImportJob:
        """StartImportJob: idempotent by clientToken, reads the upload, checks its rows.

        Only a QUICK_RESPONSES knowledge base takes an import (400 otherwise).
        """
        upload_id = params["uploadId"]
        request = json.dumps(
            {k: params.get(k) for k in _START_INPUTS}, sort_keys=True, separators=(",", ":")
        )
        token = params.get("clientToken")
        kb_id = kb.knowledge_base_id
        if kb.knowledge_base_type != "QUICK_RESPONSES":
            raise ValidationException(
                f"Knowledge base {kb_id} is of type {kb.knowledge_base_type}: "
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
                if isinstance(earlier, ImportJob):
                    return earlier
            upload = self.uploads.get(upload_id)
            if upload is None or upload.knowledge_base_id != kb_id:
                raise ResourceNotFoundException(
                    f"Upload {upload_id} not found", resource_name=upload_id
                )
            if upload.body is None:
                raise ValidationException(f"Nothing was uploaded for upload {upload_id}")
            running = sum(
                1 for j in kb.jobs if isinstance(j, ImportJob) and j.status == START_IN_PROGRESS
            )
            if job_quota is not None and running >= job_quota:
                raise ServiceQuotaExceededException(
                    f"Knowledge base {kb_id} already has {running} import jobs in progress"
                )
            report = failed_record_report(upload.body)
            job = self.new_import_job(
                kb,
                upload_id=upload_id,
                import_job_type=params["importJobType"],
                metadata=params.get("metadata"),
                external_source_configuration=params.get("externalSourceConfiguration"),
                completion=completion,
                now=now,
            )
            job.content_key = self.files.store(upload.body, upload.headers["Content-Type"])
            if report is not None:
                job.final_status = FAILED
                job.pending_report = self.files.store(report, "text/csv")
            if token is not None:
                self.client_tokens[(kb_id, token)] = (request, job.import_job_id)
            return job

    def list_import_jobs(
        self,
        kb: KnowledgeBase,
        max_results: int,
        next_token: str | None,
        *,
        now: float,
        empty_page: bool = False,
    ) -> tuple[list[bytes], str | None]:
        """One page of summaries, JSON-encoded, and the next page's token (None: last page).

        `empty_page` answers no jobs and a fresh token for the same position, as services do
        when a page happens to be empty; a client must follow it.
        """
        scope = kb.knowledge_base_id
        with self.lock:
            after = self._tokens.decode(next_token, scope)
            if empty_page:
                return [], self._tokens.encode(scope, after)
            start = bisect_right(kb.job_seqs, after)
            page = kb.jobs[start : start + max_results]
            for job in page:
                job.observe(now)
            more = start + max_results < len(kb.jobs)
            token = self._tokens.encode(scope, page[-1].seq) if more else None
            return [job.wire_json() for job in page], token


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

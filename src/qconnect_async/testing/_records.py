"""The fake's records and their wire forms: the service's errors, page tokens, knowledge bases,
import jobs, uploads, and the files presigned GETs download.

Errors are the service's modelled ones: each `code` names an error shape of botocore's qconnect
model, so moto's serialiser takes the HTTP status (400, 402, 404, 409) from the model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from moto.core.exceptions import ServiceException

from ._state import JobCompletion, RequestContext


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

    def page(
        self,
        records: Sequence[Any],
        seqs: list[int],
        scope: str,
        params: Mapping[str, Any],
        context: RequestContext,
    ) -> tuple[list[Any], str | None]:
        """The page of `records` (numbered `seqs`) the request's maxResults and nextToken ask
        for (the settings' page size without maxResults), and the next page's token.

        A page fault bends the token: the request's again (`repeat_token`), "" instead of none
        (`empty_last_token`), or no records and a fresh token to the same spot (`empty_page`).
        """
        token, fault = params.get("nextToken"), context.page_fault
        max_results = params.get("maxResults") or context.settings.default_page_size
        after = self.decode(token, scope)
        if fault == "empty_page":
            return [], self.encode(scope, after)
        start = bisect_right(seqs, after)
        page = list(records[start : start + max_results])
        more = start + max_results < len(records)
        if fault == "repeat_token" and token is not None:
            return page, token
        if more:
            return page, self.encode(scope, page[-1].seq)
        return page, "" if fault == "empty_last_token" else None


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


def as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(eq=False, slots=True)
class ImportJob:
    """An import job: its ImportJobSummary as sent (`summary`), and where its status goes.

    A raw job (`raw`) is a summary stored verbatim, whatever it holds, for clients' robustness
    tests: it never changes, and its GetImportJob is sent as stored.
    """

    seq: int
    import_job_id: str
    summary: dict[str, Any]
    raw: bool = False
    #: The files behind `url` (what was imported) and `failedRecordReport` (`Files` keys).
    content_key: str | None = None
    report_key: str | None = None
    reads_left: int | None = None
    complete_at: float | None = None
    #: What a job in progress turns into once due: COMPLETE, FAILED (with `pending_report`)
    #: or, for a delete, DELETED.
    final_status: str = COMPLETE
    pending_report: str | None = None
    _json: bytes | None = field(default=None, repr=False)

    @property
    def status(self) -> Any:
        return self.summary.get("status")

    def _move(self, status: str, now: float) -> None:
        self.summary["status"] = status
        self.summary["lastModifiedTime"] = epoch(max(now, self.summary["createdTime"]))
        self._json = None

    def begin(self, status: str, final_status: str, completion: JobCompletion, now: float) -> None:
        """Enter `status` (in progress) until `completion` turns it into `final_status`."""
        self.final_status = final_status
        self.reads_left = completion.after_reads
        if completion.after_seconds is not None:
            self.complete_at = now + completion.after_seconds
        self._move(status, now)

    def observe(self, now: float, *, read: bool = True) -> None:
        """Count one read (unless `read` is False), and finish when the job's time has come."""
        if self.raw or self.status not in IN_PROGRESS:
            return
        due = self.complete_at is not None and now >= self.complete_at
        if not due and self.reads_left is not None and read:
            due = self.reads_left <= 0
            self.reads_left -= 1
        if due:
            self.complete_at = None
            if self.final_status == FAILED:
                self.report_key = self.pending_report
            self._move(self.final_status, now)

    def wire_json(self) -> bytes:
        """The summary encoded as JSON; cached until it changes (pages join these bytes)."""
        if self._json is None:
            self._json = json.dumps(self.summary).encode()
        return self._json


@dataclass(eq=False)
class KnowledgeBase:
    """A knowledge base: its KnowledgeBaseData as sent (`data`), and its jobs in creation order."""

    seq: int
    data: dict[str, Any]
    jobs: list[ImportJob] = field(default_factory=list)
    job_seqs: list[int] = field(default_factory=list)
    jobs_by_id: dict[str, ImportJob] = field(default_factory=dict)

    @property
    def knowledge_base_id(self) -> str:
        return str(self.data["knowledgeBaseId"])

    def add(self, job: ImportJob) -> None:
        self.jobs.append(job)
        self.job_seqs.append(job.seq)
        self.jobs_by_id[job.import_job_id] = job

    def remove(self, job: ImportJob) -> None:
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

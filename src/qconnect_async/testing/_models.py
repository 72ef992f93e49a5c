"""The records the backend keeps: knowledge bases and import jobs, and their wire forms."""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

START_IN_PROGRESS = "START_IN_PROGRESS"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
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
_URL_TTL_SECONDS = 3600.0


def epoch(seconds: float) -> float:
    """Millisecond precision, as the service sends epoch-seconds timestamps."""
    return round(seconds, 3)


def _as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class JobCompletion:
    """When a job started over the API leaves START_IN_PROGRESS for COMPLETE.

    `after_reads`: reads (GetImportJob, or a ListImportJobs page holding it) that still see it
    in progress; `after_seconds`: age at which it is complete. Whichever comes first; both None:
    never.
    """

    after_reads: int | None = 1
    after_seconds: float | None = None


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
    failed_record_report: str | None = None
    reads_left: int | None = None
    complete_at: float | None = None
    #: What a started job turns into once due: COMPLETE, or FAILED with `pending_report`.
    final_status: str = COMPLETE
    pending_report: str | None = None
    url: str | None = None
    url_expiry: float | None = None
    _wire: dict[str, Any] | None = field(default=None, repr=False)
    _json: bytes | None = field(default=None, repr=False)

    def observe(self, now: float, *, read: bool = True) -> None:
        """Count one read (unless `read` is False), and finish when the job's time has come."""
        if self.status != START_IN_PROGRESS:
            return
        due = self.complete_at is not None and now >= self.complete_at
        if not due and self.reads_left is not None and read:
            due = self.reads_left <= 0
            self.reads_left -= 1
        if due:
            self.status = self.final_status
            if self.final_status == FAILED:
                self.failed_record_report = self.pending_report
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

    def data(self) -> dict[str, Any]:
        """The ImportJobData, for moto's serialiser (datetimes, extra keys dropped by it)."""
        data = dict(self.wire())
        data["createdTime"] = _as_datetime(self.created_time)
        data["lastModifiedTime"] = _as_datetime(self.last_modified_time)
        data["url"] = self.url or f"https://uploads.qconnect.invalid/{self.upload_id}"
        expiry = self.url_expiry
        data["urlExpiry"] = _as_datetime(
            self.created_time + _URL_TTL_SECONDS if expiry is None else expiry
        )
        if self.failed_record_report is not None:
            data["failedRecordReport"] = self.failed_record_report
        return data


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

"""The methods QConnectServer and RemoteQConnectServer share: seeding, faults, stats.

Each method names a call of the server's control surface (`_control.Controller`); a subclass only
says how a call reaches it (in-process, or over HTTP). Operations are botocore's names
("ListImportJobs"); `operation=None` means every operation. `times=None` means every matching
request until `clear_faults()` or `reset()`. A knowledge base is given as an ID or an ARN.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, cast

from ._faults import MalformedKind
from ._ids import knowledge_base_arn
from ._stats import ServerStats


class ServerControls(ABC):
    """Seeding, fault injection and statistics of a QConnect server."""

    region: str
    account_id: str

    @property
    @abstractmethod
    def endpoint_url(self) -> str:
        """Where clients send requests, e.g. "http://127.0.0.1:50123"."""

    @abstractmethod
    def _call(self, call: str, /, **arguments: Any) -> Any:
        """Run one control call and return its JSON-compatible result."""

    # -- data -----------------------------------------------------------------------------

    def create_knowledge_base(
        self,
        name: str | None = None,
        *,
        knowledge_base_type: str = "QUICK_RESPONSES",
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a knowledge base (ACTIVE) and return its ID."""
        return cast(
            str,
            self._call(
                "create_knowledge_base",
                name=name,
                knowledge_base_type=knowledge_base_type,
                description=description,
                tags=None if tags is None else dict(tags),
            ),
        )

    def add_import_jobs(
        self,
        knowledge_base_id: str,
        count: int,
        *,
        status: str | None = None,
        import_job_type: str = "QUICK_RESPONSES",
        metadata: Mapping[str, str] | None = None,
        external_source: bool | None = None,
    ) -> list[str]:
        """Store `count` valid import jobs at once and return their IDs, oldest first.

        Left as None, fields vary from job to job: `status` cycles through every status of the
        model, `metadata` is absent, set or empty, and one job in four has an
        externalSourceConfiguration with a connectConfiguration. Seeded jobs keep their status.
        """
        return cast(
            "list[str]",
            self._call(
                "add_import_jobs",
                knowledge_base_id=knowledge_base_id,
                count=count,
                status=status,
                import_job_type=import_job_type,
                metadata=None if metadata is None else dict(metadata),
                external_source=external_source,
            ),
        )

    def add_raw_import_job(self, knowledge_base_id: str, summary: Mapping[str, Any]) -> str:
        """Store a summary sent as is, and return its importJobId.

        It starts from a valid summary of the KB; `summary` overrides its keys, and a key set to
        None is removed. For example `{"status": "PAUSED"}` (an unknown status), or
        `{"externalSourceConfiguration": {"source": "S3", "configuration": {"s3": {}}}}`.
        """
        return cast(
            str,
            self._call(
                "add_raw_import_job", knowledge_base_id=knowledge_base_id, summary=dict(summary)
            ),
        )

    def seed(self, knowledge_bases: int, jobs_per_kb: int) -> list[str]:
        """Create `knowledge_bases` KBs of `jobs_per_kb` varied jobs each; return the KB IDs."""
        return cast(
            "list[str]",
            self._call("seed", knowledge_bases=knowledge_bases, jobs_per_kb=jobs_per_kb),
        )

    def uploaded(self, upload_id: str) -> bytes | None:
        """The bytes a presigned PUT stored for `upload_id`; None until one succeeded."""
        found = self._call("uploaded", upload_id=upload_id)
        return None if found is None else base64.b64decode(found["body_base64"])

    def knowledge_base_ids(self) -> list[str]:
        """The IDs of every KB of the server's account and region, oldest first."""
        return cast("list[str]", self._call("knowledge_base_ids"))

    def knowledge_base_arn(self, knowledge_base_id: str) -> str:
        """The ARN of a KB of this server's account and region."""
        return knowledge_base_arn(self.region, self.account_id, knowledge_base_id)

    # -- behaviour ------------------------------------------------------------------------

    def set_default_page_size(self, size: int) -> None:
        """The page size of a listing that sends no maxResults."""
        self._call("set_default_page_size", size=size)

    def set_clock_offset(self, seconds: float) -> None:
        """Run the server's clock `seconds` ahead of the host's (negative: behind); 0 resets.

        The server checks each request's signing time (X-Amz-Date) against its clock, as AWS
        does: more than 5 minutes apart is a 403 InvalidSignatureException ("Signature
        expired" or "Signature not yet current"); every response's Date is the server's time.
        """
        self._call("set_clock_offset", seconds=seconds)

    def set_job_completion(
        self, *, after_reads: int | None = 1, after_seconds: float | None = None
    ) -> None:
        """When a job started with StartImportJob turns from START_IN_PROGRESS to COMPLETE.

        After `after_reads` reads that still see it in progress (GetImportJob, or a
        ListImportJobs page holding it) or `after_seconds`, whichever comes first.
        """
        self._call("set_job_completion", after_reads=after_reads, after_seconds=after_seconds)

    def set_job_quota(self, limit: int | None) -> None:
        """At most `limit` jobs of a KB in START_IN_PROGRESS at once; more is a 402.

        StartImportJob beyond it answers ServiceQuotaExceededException. None removes the quota.
        """
        self._call("set_job_quota", limit=limit)

    # -- faults ---------------------------------------------------------------------------

    def fail_uploads(
        self,
        *,
        times: int | None = 1,
        status: int = 503,
        code: str = "SlowDown",
        message: str = "Please reduce your request rate.",
    ) -> None:
        """Answer the next `times` presigned PUTs with an S3 error (503 SlowDown by default).

        The body is S3's XML error; nothing is stored.
        """
        self._call("fail_uploads", times=times, status=status, code=code, message=message)

    def disconnect_uploads(self, *, times: int | None = 1) -> None:
        """Close the connection of the next `times` presigned PUTs without an answer."""
        self._call("disconnect_uploads", times=times)

    def expire_upload_urls(self, *, times: int | None = 1) -> None:
        """Treat the next `times` presigned PUTs as arriving after their URL's expiry.

        They get S3's 403 AccessDenied "Request has expired"; a URL also expires for real at
        its urlExpiry.
        """
        self._call("expire_upload_urls", times=times)

    def throttle(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        retry_after: float | None = None,
        status: int = 429,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests with a ThrottlingException (429 by default).

        `retry_after` adds a Retry-After header (seconds, fractions allowed).
        """
        self._call(
            "throttle",
            operation=operation,
            times=times,
            retry_after=retry_after,
            status=status,
            knowledge_base_id=knowledge_base_id,
        )

    def fail(
        self,
        operation: str | None = "ListImportJobs",
        *,
        code: str = "InternalServerException",
        status: int = 500,
        message: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests with the error `code` and HTTP `status`.

        E.g. `fail(code="AccessDeniedException", status=403, times=None, knowledge_base_id=kb)`
        denies one KB for good while the others list.
        """
        self._call(
            "fail",
            operation=operation,
            code=code,
            status=status,
            message=message,
            times=times,
            retry_after=retry_after,
            knowledge_base_id=knowledge_base_id,
        )

    def malformed(
        self,
        operation: str | None = "ListImportJobs",
        *,
        kind: MalformedKind = "invalid_json",
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests with a 200 whose body is not a valid response."""
        self._call(
            "malformed",
            operation=operation,
            kind=kind,
            times=times,
            knowledge_base_id=knowledge_base_id,
        )

    def repeat_token(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests that carry a nextToken with that same token.

        The page holds the right jobs; only its nextToken loops. Requests without a token are
        answered normally and do not count.
        """
        self._call(
            "page_fault",
            fault="repeat_token",
            operation=operation,
            times=times,
            knowledge_base_id=knowledge_base_id,
        )

    def empty_page(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` list requests with no jobs and a new token to the same spot."""
        self._call(
            "page_fault",
            fault="empty_page",
            operation=operation,
            times=times,
            knowledge_base_id=knowledge_base_id,
        )

    def empty_last_token(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = None,
        knowledge_base_id: str | None = None,
    ) -> None:
        """End the last page of a listing with ``"nextToken": ""`` instead of no token.

        `times` counts the matching list requests, last pages or not.
        """
        self._call(
            "page_fault",
            fault="empty_last_token",
            operation=operation,
            times=times,
            knowledge_base_id=knowledge_base_id,
        )

    def set_rate_limit(self, rate: float | None, *, burst: int = 1, status: int = 429) -> None:
        """Serve `rate` requests per second, `burst` at once, across all operations.

        A token bucket, full at first; requests beyond it get a ThrottlingException with
        `status`. `rate=None` removes the limit.
        """
        self._call("set_rate_limit", rate=rate, burst=burst, status=status)

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Delay every response to `operation` (None: all) by `seconds`; 0 removes it."""
        self._call("set_latency", seconds=seconds, operation=operation)

    def random_faults(
        self,
        probability: float,
        *,
        seed: int | None = None,
        operations: Sequence[str] | None = None,
        errors: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        """Fail each request with `probability`, drawing from a random generator seeded `seed`.

        `errors` lists the (code, status) answers to pick from; by default a 429
        ThrottlingException, a 500 InternalServerException or a 503 ServiceUnavailableException.
        `probability=0` turns it off.
        """
        self._call(
            "random_faults",
            probability=probability,
            seed=seed,
            operations=None if operations is None else list(operations),
            errors=None if errors is None else [list(pair) for pair in errors],
        )

    def clear_faults(self) -> None:
        """Remove every fault, rate limit and latency."""
        self._call("clear_faults")

    # -- stats and reset ------------------------------------------------------------------

    @property
    def stats(self) -> ServerStats:
        """The server's counters now."""
        return ServerStats.from_json(self._call("stats"))

    def reset_stats(self) -> None:
        """Zero the counters."""
        self._call("reset_stats")

    def reset(self) -> None:
        """Forget all QConnect data, faults, settings and counters: a fresh server."""
        self._call("reset")

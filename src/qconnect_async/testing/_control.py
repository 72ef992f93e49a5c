"""The control surface of one server: seeding, settings, faults, stats.

QConnectServer calls it in-process; the HTTP control endpoint (`_wsgi`) calls it by name with
JSON arguments, so every method takes and returns JSON-compatible values and checks its
arguments itself (a ValueError becomes a 400 over HTTP).
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import botocore.session

from ._backend import QConnectBackend, backend_for, qconnect_backends
from ._context import Settings
from ._exceptions import ResourceNotFoundException
from ._faults import (
    DEFAULT_RANDOM_ERRORS,
    MALFORMED_KINDS,
    PAGE_FAULTS,
    THROTTLING,
    ErrorReply,
    FaultInjector,
    MalformedKind,
    PageFault,
    UploadRule,
)
from ._ids import split_knowledge_base_ref
from ._models import JobCompletion, KnowledgeBase
from ._routing import operation_names
from ._stats import StatsRecorder

LISTINGS = ("ListImportJobs", "ListKnowledgeBases")


def _enum(shape: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("qconnect")
    return frozenset(model.shape_for(shape).enum)


class Controller:
    """Seeding, settings, faults and stats of one server; thread-safe."""

    #: The methods the HTTP control endpoint may call.
    CALLS = frozenset(
        {
            "add_import_jobs",
            "add_raw_import_job",
            "clear_faults",
            "create_knowledge_base",
            "disconnect_uploads",
            "expire_upload_urls",
            "fail",
            "fail_uploads",
            "info",
            "knowledge_base_ids",
            "malformed",
            "page_fault",
            "random_faults",
            "reset",
            "reset_stats",
            "seed",
            "set_default_page_size",
            "set_job_completion",
            "set_job_quota",
            "set_latency",
            "set_clock_offset",
            "set_rate_limit",
            "stats",
            "throttle",
            "uploaded",
        }
    )

    def __init__(self, *, region: str, account_id: str, settings: Settings) -> None:
        self.region = region
        self.account_id = account_id
        self.faults = FaultInjector()
        self.recorder = StatsRecorder()
        self._defaults = settings
        self.settings = settings
        self._operations = operation_names()
        self._job_statuses = _enum("ImportJobStatus")
        self._job_types = _enum("ImportJobType")
        self._kb_types = _enum("KnowledgeBaseType")

    def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run a control method by name (the HTTP endpoint's entry point)."""
        if name not in self.CALLS:
            raise LookupError(f"unknown control call: {name}")
        return getattr(self, name)(**arguments)

    @property
    def backend(self) -> QConnectBackend:
        return backend_for(self.account_id, self.region)

    def _kb(self, ref: str) -> KnowledgeBase:
        if not isinstance(ref, str) or split_knowledge_base_ref(ref) is None:
            raise ValueError(f"not a knowledge base ID or ARN: {ref!r}")
        try:
            return self.backend.get_knowledge_base(ref)
        except ResourceNotFoundException:
            raise LookupError(f"no knowledge base {ref} in {self.region}") from None

    def info(self) -> dict[str, Any]:
        return {"region": self.region, "account_id": self.account_id}

    # -- data -----------------------------------------------------------------------------

    def create_knowledge_base(
        self,
        name: str | None = None,
        *,
        knowledge_base_type: str = "QUICK_RESPONSES",
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        _check_choice("knowledge_base_type", knowledge_base_type, self._kb_types)
        backend = self.backend
        kb = backend.create_knowledge_base(
            name or f"kb-{len(backend.knowledge_bases) + 1}",
            knowledge_base_type,
            description=description,
            tags=tags,
        )
        return kb.knowledge_base_id

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
        _check_int("count", count, low=0)
        if status is not None:
            _check_choice("status", status, self._job_statuses)
        _check_choice("import_job_type", import_job_type, self._job_types)
        return self.backend.seed_import_jobs(
            self._kb(knowledge_base_id),
            count,
            status=status,
            import_job_type=import_job_type,
            metadata=metadata,
            external_source=external_source,
        )

    def add_raw_import_job(self, knowledge_base_id: str, summary: Mapping[str, Any]) -> str:
        if not isinstance(summary, Mapping):
            raise ValueError("summary must be a JSON object")
        try:
            json.dumps(summary)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"summary must be JSON-serialisable: {exc}") from None
        return self.backend.add_raw_import_job(self._kb(knowledge_base_id), summary)

    def seed(self, knowledge_bases: int, jobs_per_kb: int) -> list[str]:
        _check_int("knowledge_bases", knowledge_bases, low=0)
        _check_int("jobs_per_kb", jobs_per_kb, low=0)
        ids = []
        for _ in range(knowledge_bases):
            kb_id = self.create_knowledge_base()
            self.add_import_jobs(kb_id, jobs_per_kb)
            ids.append(kb_id)
        return ids

    def uploaded(self, upload_id: str) -> dict[str, Any] | None:
        """What a PUT stored for `upload_id` (base64 body and its size); None: nothing yet."""
        backend = self.backend
        with backend.lock:
            upload = backend.uploads.get(upload_id)
            body = None if upload is None else upload.body
        if body is None:
            return None
        return {"size": len(body), "body_base64": base64.b64encode(body).decode()}

    def knowledge_base_ids(self) -> list[str]:
        backend = self.backend
        with backend.lock:
            return list(backend.knowledge_bases)

    # -- settings -------------------------------------------------------------------------

    def set_default_page_size(self, size: int) -> None:
        _check_int("size", size, low=1)
        self.settings = replace(self.settings, default_page_size=size)

    def set_clock_offset(self, seconds: float) -> None:
        _check_number("seconds", seconds, low=-(10**9))
        self.settings = replace(self.settings, clock_offset=float(seconds))

    def now(self) -> float:
        """The server's clock: the host's, moved by the clock offset (Unix seconds)."""
        return time.time() + self.settings.clock_offset

    def set_job_completion(
        self, *, after_reads: int | None = 1, after_seconds: float | None = None
    ) -> None:
        if after_reads is not None:
            _check_int("after_reads", after_reads, low=0)
        if after_seconds is not None:
            _check_number("after_seconds", after_seconds, low=0)
        self.settings = replace(self.settings, completion=JobCompletion(after_reads, after_seconds))

    def set_job_quota(self, limit: int | None) -> None:
        if limit is not None:
            _check_int("limit", limit, low=0)
        self.settings = replace(self.settings, job_quota=limit)

    # -- faults ---------------------------------------------------------------------------

    def fail_uploads(
        self,
        *,
        times: int | None = 1,
        status: int = 503,
        code: str = "SlowDown",
        message: str = "Please reduce your request rate.",
    ) -> None:
        if times is not None:
            _check_int("times", times, low=1)
        _check_int("status", status, low=400, high=599)
        self.faults.add_upload_fault(UploadRule("error", times, status, str(code), str(message)))

    def disconnect_uploads(self, *, times: int | None = 1) -> None:
        if times is not None:
            _check_int("times", times, low=1)
        self.faults.add_upload_fault(UploadRule("disconnect", times))

    def expire_upload_urls(self, *, times: int | None = 1) -> None:
        if times is not None:
            _check_int("times", times, low=1)
        self.faults.add_upload_fault(UploadRule("expired", times))

    def throttle(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        retry_after: float | None = None,
        status: int = 429,
        knowledge_base_id: str | None = None,
    ) -> None:
        self.fail(
            operation,
            code=THROTTLING,
            status=status,
            message="Rate exceeded",
            times=times,
            retry_after=retry_after,
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
        self._check_target(operation, times, knowledge_base_id)
        if not isinstance(code, str) or not code:
            raise ValueError("code must be a non-empty string")
        _check_int("status", status, low=400, high=599)
        if retry_after is not None:
            _check_number("retry_after", retry_after, low=0)
        reply = ErrorReply(status, code, message or f"Injected {code}", retry_after)
        self.faults.add_error(
            reply, operation=operation, times=times, knowledge_base_id=knowledge_base_id
        )

    def malformed(
        self,
        operation: str | None = "ListImportJobs",
        *,
        kind: MalformedKind = "invalid_json",
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        self._check_target(operation, times, knowledge_base_id)
        _check_choice("kind", kind, MALFORMED_KINDS)
        self.faults.add_malformed(
            kind, operation=operation, times=times, knowledge_base_id=knowledge_base_id
        )

    def page_fault(
        self,
        fault: PageFault,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        # Only listings have pages; a page fault for any operation would be spent on others.
        _check_choice("operation", operation, LISTINGS)
        self._check_target(operation, times, knowledge_base_id)
        _check_choice("fault", fault, PAGE_FAULTS)
        self.faults.add_page_fault(
            fault, operation=operation, times=times, knowledge_base_id=knowledge_base_id
        )

    def set_rate_limit(self, rate: float | None, *, burst: int = 1, status: int = 429) -> None:
        if rate is not None:
            _check_number("rate", rate, low=0, strict=True)
        _check_int("burst", burst, low=1)
        _check_int("status", status, low=400, high=599)
        self.faults.set_rate_limit(rate, burst, status)

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        _check_number("seconds", seconds, low=0)
        self._check_operation(operation)
        self.faults.set_latency(seconds, operation)

    def random_faults(
        self,
        probability: float,
        *,
        seed: int | None = None,
        operations: Sequence[str] | None = None,
        errors: Sequence[Sequence[Any]] | None = None,
    ) -> None:
        _check_number("probability", probability, low=0, high=1)
        for operation in operations or ():
            self._check_operation(operation)
        pairs = [(str(code), int(status)) for code, status in errors or DEFAULT_RANDOM_ERRORS]
        if not pairs:
            raise ValueError("errors must not be empty")
        self.faults.set_random(probability, seed=seed, operations=operations, errors=pairs)

    def clear_faults(self) -> None:
        self.faults.clear()

    def _check_operation(self, operation: str | None) -> None:
        if operation is not None and operation not in self._operations:
            raise ValueError(f"not a qconnect operation: {operation!r}")

    def _check_target(
        self, operation: str | None, times: int | None, knowledge_base_id: str | None
    ) -> None:
        self._check_operation(operation)
        if times is not None:
            _check_int("times", times, low=1)
        if knowledge_base_id is not None and split_knowledge_base_ref(knowledge_base_id) is None:
            raise ValueError(f"not a knowledge base ID or ARN: {knowledge_base_id!r}")

    # -- stats and reset ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self.recorder.snapshot().to_json()

    def reset_stats(self) -> None:
        self.recorder.reset()

    def reset(self) -> None:
        """Forget all data (of every account and region), faults, settings and stats."""
        for _, _, backend in qconnect_backends.iter_backends():
            backend.reset()
        self.faults.clear()
        self.settings = self._defaults
        self.recorder.reset()


def _check_int(name: str, value: Any, *, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {bounds}, not {value}")


def _check_number(
    name: str, value: Any, *, low: float, high: float | None = None, strict: bool = False
) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    if value < low or (strict and value == low) or (high is not None and value > high):
        raise ValueError(f"{name} is out of range: {value}")


def _check_choice(name: str, value: Any, choices: frozenset[str] | tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, not {value!r}")

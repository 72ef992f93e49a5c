"""The control API of a server, declared once: seeding, settings, faults, stats.

Each `@control` method of ServerControls is one control operation: its signature and docstring
are the public API, its body the implementation, which checks its arguments itself and acts on
the server's ServerState. A subclass only says where the body runs: LocalControls (and so
QConnectServer) runs it in-process; RemoteQConnectServer binds the arguments to the same
signature and sends them as JSON to `POST /moto-api/qconnect/<name>`, where the server runs the
same body (`LocalControls._call_json`). There a ValueError or TypeError is a 400 and a
LookupError a 404, raised again as ValueError and LookupError by the remote. A result that is
not JSON (bytes, ServerStats) names its `Wire` codec. Adding a fault means its behaviour in
`_faults` and one method here.

RemoteQConnectServer lives here rather than beside QConnectServer so that it imports no moto
(this module reaches the backend only from the bodies, which run on the server's side).

Operations are botocore's names ("ListImportJobs"); `operation=None` means every operation.
`times=None` means every matching request until `clear_faults()` or `reset()`. A knowledge base
is given as an ID or an ARN.
"""

from __future__ import annotations

import base64
import functools
import gc
import inspect
import json
import math
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, cast

import botocore.session

from ._faults import (
    DEFAULT_RANDOM_ERRORS,
    MALFORMED_KINDS,
    PAGE_FAULTS,
    THROTTLING,
    ErrorReply,
    FaultInjector,
    MalformedKind,
    PageFault,
    ServerStats,
    StatsRecorder,
    UploadRule,
)
from ._ids import knowledge_base_arn, split_knowledge_base_ref

if TYPE_CHECKING:
    from ._backend import KnowledgeBase, QConnectBackend

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
S = TypeVar("S", bound="ServerControls")

#: Where the server answers control calls: `POST <endpoint>/moto-api/qconnect/<name>`.
CONTROL_PREFIX = "/moto-api/qconnect/"
#: The operations that have pages: a page fault for any other would be spent on nothing.
LISTINGS = ("ListImportJobs", "ListKnowledgeBases")


# -- the server's own state ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobCompletion:
    """When a job started over the API leaves START_IN_PROGRESS for COMPLETE.

    `after_reads`: reads (GetImportJob, or a ListImportJobs page holding it) that still see it
    in progress; `after_seconds`: age at which it is complete. Whichever comes first; both None:
    never.
    """

    after_reads: int | None = 1
    after_seconds: float | None = None


@dataclass(frozen=True)
class Settings:
    """Behaviour of a server that is not a fault: page size, job completion, quota, clock."""

    default_page_size: int = 100
    completion: JobCompletion = field(default_factory=JobCompletion)
    #: seconds the server's clock runs ahead of the host's (negative: behind)
    clock_offset: float = 0.0
    #: Jobs a KB may have in START_IN_PROGRESS at once (None: no quota).
    job_quota: int | None = None


class ServerState:
    """What belongs to one server, not to moto's shared data: settings, faults, counters."""

    def __init__(self, *, region: str, account_id: str, settings: Settings) -> None:
        self.region = region
        self.account_id = account_id
        self.faults = FaultInjector()
        self.recorder = StatsRecorder()
        self.defaults = self.settings = settings

    @property
    def backend(self) -> QConnectBackend:
        from ._backend import backend_for  # here: the remote's side of this module has no moto

        return backend_for(self.account_id, self.region)

    def now(self) -> float:
        """The server's clock: the host's, moved by the clock offset (Unix seconds)."""
        return time.time() + self.settings.clock_offset


# -- the declaration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Wire(Generic[T]):
    """How a result that is not JSON crosses the HTTP control endpoint."""

    encode: Callable[[T], Any]
    decode: Callable[[Any], T]


@dataclass(frozen=True)
class ControlCall:
    """One control operation: its name on the wire, its body and signature, its codec."""

    name: str
    body: Callable[..., Any]
    signature: inspect.Signature
    wire: Wire[Any] | None


#: Every control operation, by wire name (filled by `@control`).
CONTROLS: dict[str, ControlCall] = {}


def control(
    *, name: str | None = None, wire: Wire[Any] | None = None
) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Declare a control operation: the body runs wherever the subclass's `_invoke` says."""

    def declare(body: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        call = ControlCall(name or body.__name__, body, inspect.signature(body), wire)
        CONTROLS[call.name] = call

        @functools.wraps(body)
        def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return cast(R, self._invoke(call, args, kwargs))

        return method

    return declare


def _encode_upload(body: bytes | None) -> dict[str, Any] | None:
    if body is None:
        return None
    return {"size": len(body), "body_base64": base64.b64encode(body).decode()}


def _decode_upload(found: Any) -> bytes | None:
    return None if found is None else base64.b64decode(found["body_base64"])


class ServerControls(ABC):
    """Seeding, fault injection and statistics of a QConnect server."""

    region: str
    account_id: str
    #: The server's state; only where the bodies run (LocalControls).
    _state: ServerState

    @property
    @abstractmethod
    def endpoint_url(self) -> str:
        """Where clients send requests, e.g. "http://127.0.0.1:50123"."""

    @abstractmethod
    def _invoke(self, call: ControlCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one control operation with the arguments a caller passed."""

    def knowledge_base_arn(self, knowledge_base_id: str) -> str:
        """The ARN of a KB of this server's account and region."""
        return knowledge_base_arn(self.region, self.account_id, knowledge_base_id)

    @control(name="info")
    def _info(self) -> dict[str, Any]:
        return {"region": self._state.region, "account_id": self._state.account_id}

    # -- data ---------------------------------------------------------------------------------

    @control()
    def create_knowledge_base(
        self,
        name: str | None = None,
        *,
        knowledge_base_type: str = "QUICK_RESPONSES",
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a knowledge base (ACTIVE) and return its ID."""
        _check_choice("knowledge_base_type", knowledge_base_type, _enum("KnowledgeBaseType"))
        backend = self._state.backend
        kb = backend.create_knowledge_base(
            name or f"kb-{len(backend.knowledge_bases) + 1}",
            knowledge_base_type,
            description=description,
            tags=tags,
        )
        return kb.knowledge_base_id

    @control()
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
        _check_int("count", count, low=0)
        if status is not None:
            _check_choice("status", status, _enum("ImportJobStatus"))
        _check_choice("import_job_type", import_job_type, _enum("ImportJobType"))
        return self._state.backend.seed_import_jobs(
            _kb(self._state, knowledge_base_id),
            count,
            status=status,
            import_job_type=import_job_type,
            metadata=metadata,
            external_source=external_source,
        )

    @control()
    def add_raw_import_job(self, knowledge_base_id: str, summary: Mapping[str, Any]) -> str:
        """Store a summary sent as is, and return its importJobId.

        It starts from a valid summary of the KB; `summary` overrides its keys, and a key set to
        None is removed. For example `{"status": "PAUSED"}` (an unknown status), or
        `{"externalSourceConfiguration": {"source": "S3", "configuration": {"s3": {}}}}`.
        """
        if not isinstance(summary, Mapping):
            raise ValueError("summary must be a JSON object")
        try:
            json.dumps(dict(summary))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"summary must be JSON-serialisable: {exc}") from None
        kb = _kb(self._state, knowledge_base_id)
        return self._state.backend.add_raw_import_job(kb, dict(summary))

    @control()
    def seed(self, knowledge_bases: int, jobs_per_kb: int) -> list[str]:
        """Create `knowledge_bases` KBs of `jobs_per_kb` varied jobs each; return the KB IDs."""
        _check_int("knowledge_bases", knowledge_bases, low=0)
        _check_int("jobs_per_kb", jobs_per_kb, low=0)
        ids = []
        for _ in range(knowledge_bases):
            kb_id = self.create_knowledge_base()
            self.add_import_jobs(kb_id, jobs_per_kb)
            ids.append(kb_id)
        return ids

    @control(wire=Wire(_encode_upload, _decode_upload))
    def uploaded(self, upload_id: str) -> bytes | None:
        """The bytes a presigned PUT stored for `upload_id`; None until one succeeded."""
        backend = self._state.backend
        with backend.lock:
            upload = backend.uploads.get(upload_id)
            return None if upload is None else upload.body

    @control()
    def knowledge_base_ids(self) -> list[str]:
        """The IDs of every KB of the server's account and region, oldest first."""
        backend = self._state.backend
        with backend.lock:
            return list(backend.knowledge_bases)

    # -- behaviour ----------------------------------------------------------------------------

    @control()
    def set_default_page_size(self, size: int) -> None:
        """The page size of a listing that sends no maxResults."""
        _check_int("size", size, low=1)
        self._settle(default_page_size=size)

    @control()
    def set_clock_offset(self, seconds: float) -> None:
        """Run the server's clock `seconds` ahead of the host's (negative: behind); 0 resets.

        The server checks each request's signing time (X-Amz-Date) against its clock, as AWS
        does: more than 5 minutes apart is a 403 InvalidSignatureException ("Signature
        expired" or "Signature not yet current"); every response's Date is the server's time.
        """
        _check_number("seconds", seconds, low=-(10**9))
        self._settle(clock_offset=float(seconds))

    @control()
    def set_job_completion(
        self, *, after_reads: int | None = 1, after_seconds: float | None = None
    ) -> None:
        """When a job started with StartImportJob turns from START_IN_PROGRESS to COMPLETE.

        After `after_reads` reads that still see it in progress (GetImportJob, or a
        ListImportJobs page holding it) or `after_seconds`, whichever comes first.
        """
        if after_reads is not None:
            _check_int("after_reads", after_reads, low=0)
        if after_seconds is not None:
            _check_number("after_seconds", after_seconds, low=0)
        self._settle(completion=JobCompletion(after_reads, after_seconds))

    @control()
    def set_job_quota(self, limit: int | None) -> None:
        """At most `limit` jobs of a KB in START_IN_PROGRESS at once; more is a 402.

        StartImportJob beyond it answers ServiceQuotaExceededException. None removes the quota.
        """
        if limit is not None:
            _check_int("limit", limit, low=0)
        self._settle(job_quota=limit)

    def _settle(self, **changes: Any) -> None:
        self._state.settings = replace(self._state.settings, **changes)

    # -- faults -------------------------------------------------------------------------------

    @control()
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
        _check_times(times)
        _check_int("status", status, low=400, high=599)
        self._state.faults.add_upload_fault(
            UploadRule("error", times, status, str(code), str(message))
        )

    @control()
    def disconnect_uploads(self, *, times: int | None = 1) -> None:
        """Close the connection of the next `times` presigned PUTs without an answer."""
        _check_times(times)
        self._state.faults.add_upload_fault(UploadRule("disconnect", times))

    @control()
    def expire_upload_urls(self, *, times: int | None = 1) -> None:
        """Treat the next `times` presigned PUTs as arriving after their URL's expiry.

        They get S3's 403 AccessDenied "Request has expired"; a URL also expires for real at
        its urlExpiry.
        """
        _check_times(times)
        self._state.faults.add_upload_fault(UploadRule("expired", times))

    @control()
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
        self.fail(
            operation,
            code=THROTTLING,
            status=status,
            message="Rate exceeded",
            times=times,
            retry_after=retry_after,
            knowledge_base_id=knowledge_base_id,
        )

    @control()
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
        html: bool = False,
    ) -> None:
        """Answer the next `times` requests with the error `code` and HTTP `status`.

        E.g. `fail(code="AccessDeniedException", status=403, times=None, knowledge_base_id=kb)`
        denies one KB for good while the others list. `html=True` answers as a proxy in front
        of the service would: an HTML page with `status` and `message`, no error code at all.
        """
        _check_target(operation, times, knowledge_base_id)
        if not isinstance(code, str) or not code:
            raise ValueError("code must be a non-empty string")
        _check_int("status", status, low=400, high=599)
        if retry_after is not None:
            _check_number("retry_after", retry_after, low=0)
        if not isinstance(html, bool):
            raise ValueError(f"html must be True or False, not {html!r}")
        reply = ErrorReply(status, code, message or f"Injected {code}", retry_after, html)
        self._state.faults.add_error(
            reply, operation=operation, times=times, knowledge_base_id=knowledge_base_id
        )

    @control()
    def malformed(
        self,
        operation: str | None = "ListImportJobs",
        *,
        kind: MalformedKind = "invalid_json",
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests with a 200 whose body is not a valid response."""
        _check_target(operation, times, knowledge_base_id)
        _check_choice("kind", kind, MALFORMED_KINDS)
        self._state.faults.add_malformed(
            kind, operation=operation, times=times, knowledge_base_id=knowledge_base_id
        )

    @control()
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
        self._page_fault("repeat_token", operation, times, knowledge_base_id)

    @control()
    def empty_page(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` list requests with no jobs and a new token to the same spot."""
        self._page_fault("empty_page", operation, times, knowledge_base_id)

    @control()
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
        self._page_fault("empty_last_token", operation, times, knowledge_base_id)

    def _page_fault(
        self,
        fault: PageFault,
        operation: str | None,
        times: int | None,
        knowledge_base_id: str | None,
    ) -> None:
        _check_choice("operation", operation, LISTINGS)
        _check_target(operation, times, knowledge_base_id)
        _check_choice("fault", fault, PAGE_FAULTS)
        self._state.faults.add_page_fault(
            fault, operation=operation, times=times, knowledge_base_id=knowledge_base_id
        )

    @control()
    def set_rate_limit(self, rate: float | None, *, burst: int = 1, status: int = 429) -> None:
        """Serve `rate` requests per second, `burst` at once, across all operations.

        A token bucket, full at first; requests beyond it get a ThrottlingException with
        `status`. `rate=None` removes the limit.
        """
        if rate is not None:
            _check_number("rate", rate, low=0, strict=True)
        _check_int("burst", burst, low=1)
        _check_int("status", status, low=400, high=599)
        self._state.faults.set_rate_limit(rate, burst, status)

    @control()
    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Delay every response to `operation` (None: all) by `seconds`; 0 removes it."""
        _check_number("seconds", seconds, low=0)
        _check_operation(operation)
        self._state.faults.set_latency(seconds, operation)

    @control()
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
        _check_number("probability", probability, low=0, high=1)
        for operation in operations or ():
            _check_operation(operation)
        pairs = [(str(code), int(status)) for code, status in errors or DEFAULT_RANDOM_ERRORS]
        if not pairs:
            raise ValueError("errors must not be empty")
        self._state.faults.set_random(
            probability,
            seed=seed,
            operations=None if operations is None else list(operations),
            errors=pairs,
        )

    @control()
    def clear_faults(self) -> None:
        """Remove every fault, rate limit and latency; requests held by a latency are
        answered now."""
        self._state.faults.clear()

    # -- stats and reset ----------------------------------------------------------------------

    @property
    @control(name="stats", wire=Wire(ServerStats.to_json, ServerStats.from_json))
    def stats(self) -> ServerStats:
        """The server's counters now."""
        return self._state.recorder.snapshot()

    @control()
    def reset_stats(self) -> None:
        """Zero the counters."""
        self._state.recorder.reset()

    @control()
    def reset(self) -> None:
        """Forget all QConnect data, faults, settings and counters: a fresh server.

        The data of every account and region goes, as moto's own reset forgets it.
        """
        from ._backend import qconnect_backends

        for _, _, backend in qconnect_backends.iter_backends():
            backend.reset()
        state = self._state
        state.faults.clear()
        state.settings = state.defaults
        state.recorder.reset()


#: The controls that store or drop data (a whole seeding at once when called over HTTP).
_HEAP_CHANGES = frozenset(
    {"create_knowledge_base", "add_import_jobs", "add_raw_import_job", "seed", "reset"}
)


def settle_heap() -> None:
    """Collect, then freeze what is left, so that later full collections skip the seed data.

    For a server that owns its process only (``python -m qconnect_async.testing``): with
    48,000 seeded jobs each full collection paused it for 90-230 ms on a 2-core machine, the
    requests held meanwhile reached its token bucket together, and it throttled them as a
    burst no client sent. ``gc.unfreeze`` first, so that data a reset dropped is collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class LocalControls(ServerControls):
    """The controls of a server in this process: each body runs here."""

    #: Set by a server that owns its process: after a control over HTTP that stored or
    #: dropped data, `settle_heap()`. (Never in a test process: it would freeze the tests'.)
    settle_after_changes = False

    def __init__(self, *, region: str, account_id: str, settings: Settings) -> None:
        self.region = region
        self.account_id = account_id
        self._state = ServerState(region=region, account_id=account_id, settings=settings)

    def _invoke(self, call: ControlCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return call.body(self, *args, **kwargs)

    def _call_json(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a control by wire name with JSON arguments; its JSON result (the HTTP endpoint)."""
        call = CONTROLS.get(name)
        if call is None:
            raise LookupError(f"unknown control call: {name}")
        result = call.body(self, **arguments)
        if self.settle_after_changes and name in _HEAP_CHANGES:
            settle_heap()
        return result if call.wire is None else call.wire.encode(result)


# -- RemoteQConnectServer ----------------------------------------------------------------------


class RemoteQConnectServer(ServerControls):
    """Seed, fault and read the stats of a QConnectServer at `endpoint_url`.

    For a server started with `python -m qconnect_async.testing`: each control method sends
    its arguments to the server's HTTP control endpoint, where the same method runs.
    """

    def __init__(self, endpoint_url: str, *, timeout: float = 30.0) -> None:
        self._endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout
        info = self._info()
        self.region = str(info["region"])
        self.account_id = str(info["account_id"])

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url

    def _invoke(self, call: ControlCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # Bound here, so that a wrong call fails as a local one would (a TypeError).
        bound = call.signature.bind(self, *args, **kwargs)
        arguments = dict(list(bound.arguments.items())[1:])
        result = self._post(call.name, arguments)
        return result if call.wire is None else call.wire.decode(result)

    def _post(self, call: str, arguments: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self._endpoint_url}{CONTROL_PREFIX}{call}",
            data=json.dumps(arguments, default=_jsonable).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.load(response)["result"]
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read().decode(errors="replace")
            try:
                detail = json.loads(body).get("error", body)
            except ValueError:
                detail = body
            error = LookupError if exc.code == 404 else ValueError
            raise error(f"{call}: {detail}") from None

    def __repr__(self) -> str:
        return f"<RemoteQConnectServer {self._endpoint_url} region={self.region}>"


def _jsonable(value: Any) -> Any:
    """What json.dumps cannot write itself: other mappings and sequences (tags, errors)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence | Set) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# -- argument checks (a ValueError is a 400 over HTTP) ------------------------------------------


@cache
def _operations() -> frozenset[str]:
    return frozenset(_model().operation_names)


@cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("qconnect")


@cache
def _enum(shape: str) -> frozenset[str]:
    return frozenset(_model().shape_for(shape).enum)


def _kb(state: ServerState, ref: str) -> KnowledgeBase:
    from ._backend import ResourceNotFoundException

    if not isinstance(ref, str) or split_knowledge_base_ref(ref) is None:
        raise ValueError(f"not a knowledge base ID or ARN: {ref!r}")
    try:
        return state.backend.get_knowledge_base(ref)
    except ResourceNotFoundException:
        raise LookupError(f"no knowledge base {ref} in {state.region}") from None


def _check_operation(operation: str | None) -> None:
    if operation is not None and operation not in _operations():
        raise ValueError(f"not a qconnect operation: {operation!r}")


def _check_times(times: int | None) -> None:
    if times is not None:
        _check_int("times", times, low=1)


def _check_target(operation: str | None, times: int | None, knowledge_base_id: str | None) -> None:
    _check_operation(operation)
    _check_times(times)
    if knowledge_base_id is not None and split_knowledge_base_ref(knowledge_base_id) is None:
        raise ValueError(f"not a knowledge base ID or ARN: {knowledge_base_id!r}")


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

"""The control API of a server, declared once: seeding, settings, accounts, stats, and (from
`FaultControls`) faults; and RemoteQConnectServer, which runs it over HTTP.

Each `@control` method of ServerControls is one control operation (see `_declare`): its body
runs in-process in QConnectServer, or on the server's side of an HTTP call from
RemoteQConnectServer (`QConnectServer._call_json`): there a ValueError or TypeError
is a 400 and a LookupError a 404, raised again as ValueError and LookupError by the remote.
Bodies reach the backend (moto) only when they run, so RemoteQConnectServer needs no moto.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence, Set
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._declare import (
    CONTROLS,
    ControlCall,
    Wire,
    _check_choice,
    _check_int,
    _check_number,
    _check_place,
    control,
)
from ._faultcontrols import FaultControls
from ._model import enum, split_knowledge_base_ref
from ._state import CONTROL_PREFIX, JobCompletion, ServerState, ServerStats

__all__ = ["CONTROLS", "RemoteQConnectServer", "ServerControls", "control"]

if TYPE_CHECKING:
    from ._backend import QConnectBackend
    from ._records import KnowledgeBase


def _encode_upload(body: bytes | None) -> str | None:
    return None if body is None else base64.b64encode(body).decode()


def _decode_upload(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


class ServerControls(FaultControls):
    """Seeding, settings, accounts, fault injection and statistics of a QConnect server."""

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
        account: str | None = None,
        region: str | None = None,
    ) -> str:
        """Create a knowledge base (ACTIVE) in `account` and `region` (None: the server's).

        `knowledge_base_type`: one of the model's, or another upper-case name, as a type the
        service adds later would be (clients must keep it, not fail on it).
        """
        if knowledge_base_type not in enum("KnowledgeBaseType") and not (
            isinstance(knowledge_base_type, str)
            and re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", knowledge_base_type)
        ):
            raise ValueError(
                f"knowledge_base_type must be an upper-case name, not {knowledge_base_type!r}"
            )
        _check_place(account, region)
        backend = _backend(self._state, account, region)
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
        account: str | None = None,
        region: str | None = None,
    ) -> list[str]:
        """Store `count` valid import jobs at once and return their IDs, oldest first.

        Left as None, fields vary from job to job: `status` cycles through every status of the
        model, `metadata` is absent, set or empty, and one job in four has an
        externalSourceConfiguration with a connectConfiguration. Seeded jobs keep their status.
        """
        _check_int("count", count, low=0)
        if status is not None:
            _check_choice("status", status, enum("ImportJobStatus"))
        _check_choice("import_job_type", import_job_type, enum("ImportJobType"))
        backend, kb = _kb(self._state, knowledge_base_id, account, region)
        return backend.seed_import_jobs(
            kb,
            count,
            status=status,
            import_job_type=import_job_type,
            metadata=metadata,
            external_source=external_source,
            now=self._state.now(),
        )

    @control()
    def add_raw_import_job(
        self,
        knowledge_base_id: str,
        summary: Mapping[str, Any],
        *,
        account: str | None = None,
        region: str | None = None,
    ) -> str:
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
        backend, kb = _kb(self._state, knowledge_base_id, account, region)
        job = backend.new_import_job(kb, self._state.now(), "COMPLETE", summary, raw=True)
        return job.import_job_id

    @control()
    def seed(
        self,
        knowledge_bases: int,
        jobs_per_kb: int,
        *,
        account: str | None = None,
        region: str | None = None,
    ) -> list[str]:
        """Create `knowledge_bases` KBs of `jobs_per_kb` varied jobs each; return the KB IDs."""
        _check_int("knowledge_bases", knowledge_bases, low=0)
        _check_int("jobs_per_kb", jobs_per_kb, low=0)
        ids = []
        for _ in range(knowledge_bases):
            kb_id = self.create_knowledge_base(account=account, region=region)
            self.add_import_jobs(kb_id, jobs_per_kb, account=account, region=region)
            ids.append(kb_id)
        return ids

    @control(wire=Wire(_encode_upload, _decode_upload))
    def uploaded(self, upload_id: str) -> bytes | None:
        """The bytes a presigned PUT stored for `upload_id` (of any account and Region); None
        until one succeeded."""
        from ._backend import every_backend

        for backend in every_backend():
            with backend.lock:
                upload = backend.uploads.get(upload_id)
            if upload is not None:
                return upload.body
        return None

    @control()
    def knowledge_base_ids(
        self, *, account: str | None = None, region: str | None = None
    ) -> list[str]:
        """The IDs of every KB of `account` and `region` (None: the server's), oldest first."""
        _check_place(account, region)
        backend = _backend(self._state, account, region)
        with backend.lock:
            return list(backend.knowledge_bases)

    @control()
    def set_account(self, access_key_id: str, account_id: str) -> None:
        """Requests signed with `access_key_id` act in `account_id` (until `reset()`).

        Another key's account is moto's: the account of a key that moto's STS AssumeRole (on
        this server) returned, or that moto's IAM created; else the server's `account_id`.
        """
        if not isinstance(access_key_id, str) or not access_key_id:
            raise ValueError("access_key_id must be a non-empty string")
        _check_place(account_id, None)
        self._state.accounts[access_key_id] = account_id

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
        """When a job started or deleted over the API leaves its status in progress.

        StartImportJob's START_IN_PROGRESS becomes COMPLETE (FAILED for refused rows),
        DeleteImportJob's DELETE_IN_PROGRESS becomes DELETED: after `after_reads` reads that
        still see it in progress (GetImportJob, or a ListImportJobs page holding it) or
        `after_seconds` on the server's clock, whichever comes first; both None: never.
        GetImportJob and ListImportJobs show the job at every step (a DELETED job stays listed).
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

    @control()
    def set_role_lifetime(self, seconds: float | None) -> None:
        """Credentials of STS AssumeRole (on this server) last `seconds`, and are refused after.

        From now on each AssumeRole answer says its credentials expire `seconds` later (the
        server's clock), and a qconnect request signed with them after that is a 403
        ExpiredTokenException, as AWS refuses expired session credentials. None: moto's
        lifetimes, not enforced (the default).
        """
        if seconds is not None:
            _check_number("seconds", seconds, low=0)
        self._settle(role_lifetime=None if seconds is None else float(seconds))

    def _settle(self, **changes: Any) -> None:
        self._state.settings = replace(self._state.settings, **changes)

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
        from ._backend import every_backend

        for backend in every_backend():
            backend.reset()
        state = self._state
        state.faults.clear()
        state.settings = state.defaults
        state.recorder.reset()
        state.accounts.clear()
        state.key_expiry.clear()


def _kb(
    state: ServerState, ref: str, account: str | None, region: str | None
) -> tuple[QConnectBackend, KnowledgeBase]:
    """The backend and KB a reference names: an ARN names its own account and Region."""
    from ._records import ResourceNotFoundException

    parts = split_knowledge_base_ref(ref) if isinstance(ref, str) else None
    if parts is None:
        raise ValueError(f"not a knowledge base ID or ARN: {ref!r}")
    _check_place(account, region)
    backend = _backend(state, parts[2] or account, parts[1] or region)
    try:
        return backend, backend.get_knowledge_base(ref)
    except ResourceNotFoundException:
        where = f"{backend.account_id} {backend.region_name}"
        raise LookupError(f"no knowledge base {ref} in {where}") from None


def _backend(state: ServerState, account: str | None, region: str | None) -> QConnectBackend:
    """The data of an account and Region (None: the server's own)."""
    from ._backend import backend_for  # here: the remote's side of this module has no moto

    return backend_for(account or state.account_id, region or state.region)


# -- over HTTP, from another process ----------------------------------------------------------
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

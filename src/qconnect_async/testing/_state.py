"""What one server owns besides moto's shared data: settings, faults, counters (`ServerStats`,
kept by `StatsRecorder`), and its clock.

The one clock of the fake is `ServerState.now()`: the host's time moved by the server's clock
offset (`set_clock_offset`). Job times, presigned URL expiries, the signing-time check and the
Date header all read it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ._faults import FaultInjector, PageFault


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of a server's counters since it started or since its last reset.

    `requests` counts every request to each operation (faulted ones too); `throttled` the ones
    answered with a throttle (rate limit, scheduled or random); `faults` every injected fault,
    throttles included; `statuses` responses by HTTP status; `max_in_flight` the most requests
    the server held at once; `throttled_at` when each throttle was answered, in seconds since
    the start or the last reset (the first `THROTTLE_TIMES` of them), to tell a cold start's
    throttles from later ones.
    """

    requests: Mapping[str, int] = field(default_factory=dict)
    throttled: int = 0
    throttled_at: tuple[float, ...] = ()
    faults: int = 0
    statuses: Mapping[int, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON object (status keys become strings); `from_json` reads it back."""
        statuses = {str(status): n for status, n in self.statuses.items()}
        return {**asdict(self), "statuses": statuses, "throttled_at": list(self.throttled_at)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerStats:
        """The stats `to_json` gave."""
        statuses = {int(status): n for status, n in data["statuses"].items()}
        return cls(**{**data, "statuses": statuses, "throttled_at": tuple(data["throttled_at"])})


#: Throttle times a server keeps between resets (a bound on memory in long runs).
THROTTLE_TIMES = 10_000


class StatsRecorder:
    """Counters updated by the server's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero the counters; requests still in flight stay counted as in flight."""
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._throttled = 0
            self._throttled_at: list[float] = []
            self._since = time.monotonic()
            self._faults = 0
            self._max_in_flight = self._in_flight

    def begin(self, operation: str) -> None:
        with self._lock:
            self._requests[operation] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def end(self, status: int, *, fault: bool, throttled: bool) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses[status] += 1
            self._faults += fault
            self._throttled += throttled
            if throttled and len(self._throttled_at) < THROTTLE_TIMES:
                self._throttled_at.append(time.monotonic() - self._since)

    def snapshot(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                requests=dict(self._requests),
                throttled=self._throttled,
                throttled_at=tuple(self._throttled_at),
                faults=self._faults,
                statuses=dict(self._statuses),
                in_flight=self._in_flight,
                max_in_flight=self._max_in_flight,
            )


#: Where the server answers control calls: `POST <endpoint>/moto-api/qconnect/<name>`.
CONTROL_PREFIX = "/moto-api/qconnect/"


@dataclass(frozen=True)
class JobCompletion:
    """When a job started (deleted) over the API leaves START_IN_PROGRESS (DELETE_IN_PROGRESS).

    `after_reads`: reads (GetImportJob, or a ListImportJobs page holding it) that still see it
    in progress; `after_seconds`: time in that status. Whichever comes first; both None: never.
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
    #: Seconds the credentials of STS AssumeRole last, enforced (None: moto's, not enforced).
    role_lifetime: float | None = None


class ServerState:
    """One server's settings, faults, counters, access-key accounts and clock."""

    def __init__(self, *, region: str, account_id: str, settings: Settings) -> None:
        self.region = region
        self.account_id = account_id
        self.faults = FaultInjector()
        self.recorder = StatsRecorder()
        self.defaults = self.settings = settings
        #: access key ID -> the account its requests act in (`set_account`)
        self.accounts: dict[str, str] = {}
        #: access key ID -> when it expires (server clock), for AssumeRole's keys under a
        #: `set_role_lifetime`
        self.key_expiry: dict[str, float] = {}

    def now(self) -> float:
        """The server's clock: the host's, moved by the clock offset (Unix seconds)."""
        return time.time() + self.settings.clock_offset


@dataclass(frozen=True)
class RequestContext:
    """The settings in force and the page fault (if any) for one request."""

    settings: Settings = field(default_factory=Settings)
    page_fault: PageFault | None = None
    #: Where the request reached the server ("http://127.0.0.1:50123"): presigned URLs point here.
    base_url: str = "http://127.0.0.1"
    #: The server's clock when the request arrived (Unix seconds; see `set_clock_offset`).
    now: float = field(default_factory=time.time)
    #: The account and Region the request acts in (None: moto's choice, for a request that
    #: reaches moto's handler some other way).
    account: str | None = None
    region: str | None = None

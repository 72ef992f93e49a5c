"""What one server owns besides moto's shared data: settings, faults, counters, and its clock.

The one clock of the fake is `ServerState.now()`: the host's time moved by the server's clock
offset (`set_clock_offset`). Job times, presigned URL expiries, the signing-time check and the
Date header all read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ._faults import FaultInjector
from ._stats import StatsRecorder

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

    def now(self) -> float:
        """The server's clock: the host's, moved by the clock offset (Unix seconds)."""
        return time.time() + self.settings.clock_offset

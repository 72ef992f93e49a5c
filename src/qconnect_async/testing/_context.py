"""What the server tells the backend about one request, through the WSGI environ.

The data lives in moto's global backend; settings and body faults belong to one QConnectServer.
The server's WSGI wrapper puts a RequestContext under ENVIRON_KEY and the response handler reads
it (a request that reaches moto some other way gets the defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ._models import JobCompletion

ENVIRON_KEY = "qconnect_async.testing.context"

#: Faults the handler itself answers, because they need the backend's page tokens.
PageFault = Literal["repeat_token", "empty_page", "empty_last_token"]


@dataclass(frozen=True)
class Settings:
    """Behaviour of a server that is not a fault: page size, job completion, quota, clock."""

    default_page_size: int = 100
    completion: JobCompletion = field(default_factory=JobCompletion)
    #: seconds the server's clock runs ahead of the host's (negative: behind)
    clock_offset: float = 0.0
    #: Jobs a KB may have in START_IN_PROGRESS at once (None: no quota).
    job_quota: int | None = None


@dataclass(frozen=True)
class RequestContext:
    """The settings in force and the page fault (if any) for one request."""

    settings: Settings = field(default_factory=Settings)
    page_fault: PageFault | None = None
    #: Where the request reached the server ("http://127.0.0.1:50123"): presigned URLs point here.
    base_url: str = "http://127.0.0.1"

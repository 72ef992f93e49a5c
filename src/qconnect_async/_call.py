"""Call: the one value that describes a request, read by the sender, telemetry and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BULK", "INTERACTIVE", "Call"]

#: Priorities, lower first: a waiting interactive request goes before every waiting bulk one
#: at the client's concurrency slots and at its rate limiter.
INTERACTIVE = 0
BULK = 1


@dataclass(frozen=True, slots=True)
class Call:
    """One service call (or one upload's PUT): what it is about, and its limits.

    Built once per call by the operations object (``_ops``); every attempt, span, log line
    and error of the call reads it, so an error is complete when it is built.
    """

    #: the service's operation name ("ListImportJobs"), or "PutObject" for an upload's PUT
    operation: str
    knowledge_base_id: str | None = None
    #: the upload a PUT or a StartImportJob is about
    upload_id: str | None = None
    #: the page token sent: where a listing resumes when this call fails
    next_token: str | None = None
    #: the absolute time (the loop's clock) the call must end by; None: no deadline
    deadline: float | None = None
    #: INTERACTIVE or BULK: the order at the client's concurrency slots and send rate
    priority: int = INTERACTIVE
    #: seconds the request may wait for a slot and the send rate before it would rather
    #: fail at once (RateWaitExceededError, nothing sent); None: wait as long as it takes
    max_rate_wait: float | None = None
    #: the AWS account the request goes to, when the client knows it (a QConnectRouter's)
    account_id: str | None = None
    #: the Region the request goes to
    region: str | None = None

    def error_fields(self) -> dict[str, Any]:
        """What every error of this call carries."""
        return {
            "operation": self.operation,
            "knowledge_base_id": self.knowledge_base_id,
            "upload_id": self.upload_id,
            "next_token": self.next_token,
            "account_id": self.account_id,
            "region": self.region,
        }

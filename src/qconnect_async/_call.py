"""Call: the one value that describes a request, read by the sender, telemetry and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Call"]


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
    #: interactive or bulk work, for the slots and the send rate (None: not set)
    priority: int | None = None

    def error_fields(self) -> dict[str, Any]:
        """What every error of this call carries."""
        return {
            "operation": self.operation,
            "knowledge_base_id": self.knowledge_base_id,
            "upload_id": self.upload_id,
            "next_token": self.next_token,
        }

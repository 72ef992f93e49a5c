"""Typed async SDK for the import jobs of Amazon Q in Connect knowledge bases.

async with QConnectClient(region_name="us-east-1") as client:
    async for job in client.list_import_jobs(kb_id):
        print(job.import_job_id, job.status)
"""

from importlib.metadata import PackageNotFoundError, version

from ._client import QConnectClient
from ._errors import (
    AccessDeniedError,
    ConflictError,
    CredentialsError,
    DeadlineExceededError,
    ImportJobFailedError,
    MalformedResponseError,
    PaginationLoopError,
    QConnectError,
    ResourceNotFoundError,
    ServiceError,
    ServiceQuotaExceededError,
    ThrottlingError,
    TransportError,
    ValidationError,
)
from ._paginate import ImportJobPager, ListingStream
from ._ratelimit import AdaptiveRateLimiter, RateLimiter, SendOutcome
from ._retry import RetryDetails, RetryPolicy
from .models import (
    ConnectConfiguration,
    ExternalSource,
    ExternalSourceConfiguration,
    ImportJob,
    ImportJobPage,
    ImportJobStatus,
    ImportJobType,
    KnowledgeBase,
    UnknownConfiguration,
)

try:
    __version__ = version("qconnect-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AccessDeniedError",
    "AdaptiveRateLimiter",
    "ConflictError",
    "ConnectConfiguration",
    "CredentialsError",
    "DeadlineExceededError",
    "ExternalSource",
    "ExternalSourceConfiguration",
    "ImportJob",
    "ImportJobFailedError",
    "ImportJobPage",
    "ImportJobPager",
    "ImportJobStatus",
    "ImportJobType",
    "KnowledgeBase",
    "ListingStream",
    "MalformedResponseError",
    "PaginationLoopError",
    "QConnectClient",
    "QConnectError",
    "RateLimiter",
    "ResourceNotFoundError",
    "RetryDetails",
    "RetryPolicy",
    "SendOutcome",
    "ServiceError",
    "ServiceQuotaExceededError",
    "ThrottlingError",
    "TransportError",
    "UnknownConfiguration",
    "ValidationError",
    "__version__",
]

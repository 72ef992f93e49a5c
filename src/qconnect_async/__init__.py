"""Typed async SDK for the import jobs of Amazon Q in Connect knowledge bases.

async with QConnectClient(region_name="us-east-1") as client:
    async for job in client.list_import_jobs(kb_id):
        print(job.import_job_id, job.status)
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._errors import (
    AccessDeniedError,
    ConflictError,
    CredentialsError,
    DeadlineExceededError,
    ImportJobFailedError,
    MalformedResponseError,
    PaginationLoopError,
    QConnectError,
    RateWaitExceededError,
    ResourceNotFoundError,
    ServiceError,
    ServiceQuotaExceededError,
    ThrottlingError,
    TransportError,
    ValidationError,
)
from ._retry import RetryDetails, RetryPolicy

if TYPE_CHECKING:
    from ._client import QConnectClient
    from ._listing import Listing
    from ._ratecontrol import RateController
    from ._ratelimit import AdaptiveRateLimiter, RateLimiter, SendOutcome
    from ._router import QConnectRouter
    from .models import (
        ConnectConfiguration,
        ExternalSource,
        ExternalSourceConfiguration,
        ImportJob,
        ImportJobPage,
        ImportJobStatus,
        ImportJobType,
        KnowledgeBase,
        KnowledgeBasePage,
        KnowledgeBaseStatus,
        KnowledgeBaseType,
        UnknownConfiguration,
    )

# Imported on first use: the client (aiobotocore, botocore) and the models (pydantic) take
# most of a second to import, which `import qconnect_async` (a command's --help, the errors,
# the retry policy) need not pay; __version__ reads the distribution's metadata, on first use.
_LAZY = {
    "QConnectClient": "._client",
    "QConnectRouter": "._router",
    "Listing": "._listing",
    "RateController": "._ratecontrol",
    "AdaptiveRateLimiter": "._ratelimit",
    "RateLimiter": "._ratelimit",
    "SendOutcome": "._ratelimit",
    "ConnectConfiguration": ".models",
    "ExternalSource": ".models",
    "ExternalSourceConfiguration": ".models",
    "ImportJob": ".models",
    "ImportJobPage": ".models",
    "ImportJobStatus": ".models",
    "ImportJobType": ".models",
    "KnowledgeBase": ".models",
    "KnowledgeBasePage": ".models",
    "KnowledgeBaseStatus": ".models",
    "KnowledgeBaseType": ".models",
    "UnknownConfiguration": ".models",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        # the distribution's metadata: importlib.metadata is slow too
        try:
            value: Any = version("qconnect-async")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0"
        globals()[name] = value
        return value
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    value.__module__ = __name__  # reprs, docs and pickles name the public home
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "ImportJobStatus",
    "ImportJobType",
    "KnowledgeBase",
    "KnowledgeBasePage",
    "KnowledgeBaseStatus",
    "KnowledgeBaseType",
    "Listing",
    "MalformedResponseError",
    "PaginationLoopError",
    "QConnectClient",
    "QConnectError",
    "QConnectRouter",
    "RateController",
    "RateLimiter",
    "RateWaitExceededError",
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

# The eager names claim the public module too (the lazy ones do as they are first imported).
for _name in __all__:
    if _name in globals() and _name != "__version__":
        globals()[_name].__module__ = __name__
del _name

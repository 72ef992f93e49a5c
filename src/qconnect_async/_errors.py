"""The error tree of qconnect-async and the map from service error codes.

::

    QConnectError                      every failure the library raises
    ├── ValidationError (ValueError)   bad input, ours or the service's ValidationException
    ├── AccessDeniedError (PermissionError)
    ├── ResourceNotFoundError (LookupError)
    ├── ThrottlingError                throttled, still so after the retries allowed
    ├── ServiceError                   a 5xx, or a code we do not map
    ├── TransportError                 connection failures and timeouts (no HTTP answer)
    │   └── DeadlineExceededError (TimeoutError)   a deadline or timeout of ours passed
    ├── MalformedResponseError         a 200 whose body breaks the model
    ├── PaginationLoopError            the service sent a token it had sent before
    ├── ConflictError                  409: the request clashes with the state (a running job)
    ├── ServiceQuotaExceededError      402: a quota is used up; never retried
    └── ImportJobFailedError           an import job ended FAILED; ``.job`` holds it

Every error carries where a listing can resume (``next_token``); the botocore exception,
when there is one, is chained as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "THROTTLING_CODES",
    "AccessDeniedError",
    "ConflictError",
    "DeadlineExceededError",
    "ImportJobFailedError",
    "MalformedResponseError",
    "PaginationLoopError",
    "QConnectError",
    "ResourceNotFoundError",
    "ServiceError",
    "ServiceQuotaExceededError",
    "ThrottlingError",
    "TransportError",
    "ValidationError",
    "error_for_code",
]

# botocore's standard-mode throttling codes (botocore/retries/standard.py), plus the service's own.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


class QConnectError(Exception):
    """Base of every error raised by qconnect-async."""

    default_code = "QConnectError"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        knowledge_base_id: str | None = None,
        next_token: str | None = None,
        retry_after: float | None = None,
        upload_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.http_status = http_status
        self.request_id = request_id
        self.operation = operation
        self.knowledge_base_id = knowledge_base_id
        self.next_token = next_token
        #: seconds the service asked us to wait (Retry-After), when it said so
        self.retry_after = retry_after
        #: the upload (StartContentUpload's uploadId) a failed upload or start was about
        self.upload_id = upload_id

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.message}"]
        if self.operation:
            parts.append(f"operation={self.operation}")
        if self.knowledge_base_id:
            parts.append(f"knowledge_base_id={self.knowledge_base_id}")
        if self.upload_id:
            parts.append(f"upload_id={self.upload_id}")
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: make pickling (multiprocessing, logging handlers) work.
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> Mapping[str, Any]:
        return {
            "code": self.code,
            "http_status": self.http_status,
            "request_id": self.request_id,
            "operation": self.operation,
            "knowledge_base_id": self.knowledge_base_id,
            "next_token": self.next_token,
            "retry_after": self.retry_after,
            "upload_id": self.upload_id,
        }


def _rebuild(cls: type[QConnectError], message: str, fields: Mapping[str, Any]) -> QConnectError:
    return cls(message, **fields)


class ValidationError(QConnectError, ValueError):
    """The input was rejected, by this library before sending or by the service."""

    default_code = "ValidationException"


class AccessDeniedError(QConnectError, PermissionError):
    """The caller's credentials may not do this (403 AccessDeniedException)."""

    default_code = "AccessDeniedException"


class ResourceNotFoundError(QConnectError, LookupError):
    """The knowledge base (or other resource) does not exist (404)."""

    default_code = "ResourceNotFoundException"


class ThrottlingError(QConnectError):
    """The service throttled the request and the retries allowed did not get through."""

    default_code = "ThrottlingException"


class ServiceError(QConnectError):
    """The service failed (5xx) or answered with an error this library does not map."""

    default_code = "ServiceError"


class TransportError(QConnectError):
    """No HTTP answer: the connection failed or timed out."""

    default_code = "TransportError"


class MalformedResponseError(QConnectError):
    """A successful answer whose body is not what the service's model says."""

    default_code = "MalformedResponse"


class PaginationLoopError(QConnectError):
    """The service sent a pagination token it had already sent in the same listing."""

    default_code = "PaginationLoop"


class ConflictError(QConnectError):
    """The request clashes with the resource's state (409), e.g. deleting a running job."""

    default_code = "ConflictException"


class ServiceQuotaExceededError(QConnectError):
    """A service quota is used up (402); waiting a little does not help, so never retried."""

    default_code = "ServiceQuotaExceededException"


class DeadlineExceededError(TransportError, TimeoutError):
    """A deadline or timeout given to this library passed before the work was done."""

    default_code = "DeadlineExceeded"


class ImportJobFailedError(QConnectError):
    """An awaited import job ended FAILED; ``job`` holds it (with its failed_record_report)."""

    default_code = "ImportJobFailed"

    def __init__(self, message: str, *, job: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        #: the ImportJob as last seen (typed Any: the error tree sits below the models)
        self.job: Any = job

    def _fields(self) -> Mapping[str, Any]:
        return {**super()._fields(), "job": self.job}


_BY_CODE: dict[str, type[QConnectError]] = {
    "ValidationException": ValidationError,
    "AccessDeniedException": AccessDeniedError,
    "UnauthorizedException": AccessDeniedError,
    "ResourceNotFoundException": ResourceNotFoundError,
    "ConflictException": ConflictError,
    "ServiceQuotaExceededException": ServiceQuotaExceededError,
    **{code: ThrottlingError for code in THROTTLING_CODES},
}


def error_for_code(code: str, http_status: int | None) -> type[QConnectError]:
    """The library class for a service error code and HTTP status."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    if http_status == 429:
        return ThrottlingError
    if http_status == 403:
        return AccessDeniedError
    if http_status == 404:
        return ResourceNotFoundError
    if http_status == 409:
        return ConflictError
    if http_status == 402:
        return ServiceQuotaExceededError
    if http_status is not None and http_status >= 500:
        return ServiceError
    # An error we do not know yet: keep its code; callers can still match on `.code`.
    return ServiceError if http_status is None else QConnectError

"""The error tree of qconnect-async and the map from service error codes.

::

    QConnectError                         every failure the library raises
    ├── ValidationError (ValueError)      bad input, ours or the service's ValidationException
    ├── CredentialsError                  no credentials, or the service refused them (fix config)
    ├── AccessDeniedError (PermissionError)  these credentials may not touch this resource
    ├── ResourceNotFoundError (LookupError)
    ├── ConflictError                     409: the resource's state forbids it now
    ├── ServiceQuotaExceededError         402: a service quota is used up (never retried)
    ├── ThrottlingError                   throttled, still so after the retries allowed
    ├── ServiceError                      a 5xx, or a service error we do not map
    ├── TransportError                    no complete HTTP answer: connection, timeout, cut body
    │   └── DeadlineExceededError (TimeoutError)  the caller's deadline or timeout passed
    ├── MalformedResponseError            a complete 2xx body that breaks the model
    ├── PaginationLoopError               the service sent a token it had sent before
    └── ImportJobFailedError              an awaited import job ended FAILED (``.job``)

CredentialsError is not an AccessDeniedError on purpose: a caller skipping the KBs it may not
read (``except AccessDeniedError: continue``) must not silently skip every KB because the
process has no credentials at all. Every error carries where a listing can resume
(``next_token``); the botocore exception, when there is one, is chained as ``__cause__``.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CREDENTIALS_CODES",
    "THROTTLING_CODES",
    "AccessDeniedError",
    "ConflictError",
    "CredentialsError",
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
    "retry_after_seconds",
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

#: Codes by which AWS refuses the caller's identity or signature, rather than an action.
CREDENTIALS_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "ExpiredToken",
        "RequestExpired",
        "RequestTimeTooSkewed",
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
        account_id: str | None = None,
        region: str | None = None,
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
        #: the AWS account and Region the failed request went to (a QConnectRouter's calls)
        self.account_id = account_id
        self.region = region

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.message}"]
        if self.operation:
            parts.append(f"operation={self.operation}")
        if self.knowledge_base_id:
            parts.append(f"knowledge_base_id={self.knowledge_base_id}")
        if self.upload_id:
            parts.append(f"upload_id={self.upload_id}")
        if self.account_id:
            parts.append(f"account_id={self.account_id}")
        if self.region:
            parts.append(f"region={self.region}")
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
            "account_id": self.account_id,
            "region": self.region,
        }


def _rebuild(cls: type[QConnectError], message: str, fields: Mapping[str, Any]) -> QConnectError:
    return cls(message, **fields)


class ValidationError(QConnectError, ValueError):
    """The input was rejected, by this library before sending or by the service."""

    default_code = "ValidationException"


class CredentialsError(QConnectError):
    """No usable credentials were found, or the service refused them (or their signature)."""

    default_code = "CredentialsError"


class AccessDeniedError(QConnectError, PermissionError):
    """The caller's credentials may not do this (403 AccessDeniedException)."""

    default_code = "AccessDeniedException"


class ResourceNotFoundError(QConnectError, LookupError):
    """The knowledge base (or other resource) does not exist (404)."""

    default_code = "ResourceNotFoundException"


class ConflictError(QConnectError):
    """The resource's state forbids the request now (409 ConflictException)."""

    default_code = "ConflictException"


class ServiceQuotaExceededError(QConnectError):
    """A service quota is used up (402 ServiceQuotaExceededException); retrying cannot help."""

    default_code = "ServiceQuotaExceededException"


class ThrottlingError(QConnectError):
    """The service throttled the request and the retries allowed did not get through."""

    default_code = "ThrottlingException"


class ServiceError(QConnectError):
    """The service failed (5xx) or answered with an error this library does not map."""

    default_code = "ServiceError"


class TransportError(QConnectError):
    """No complete HTTP answer: the connection failed, timed out, or the body was cut short."""

    default_code = "TransportError"


class DeadlineExceededError(TransportError, TimeoutError):
    """A deadline or timeout given to this library (a listing's, a wait's) passed first."""

    default_code = "DeadlineExceeded"


class MalformedResponseError(QConnectError):
    """A complete successful answer whose body is not what the service's model says."""

    default_code = "MalformedResponse"


class PaginationLoopError(QConnectError):
    """The service sent a pagination token it had already sent in the same listing."""

    default_code = "PaginationLoop"


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
    **{code: CredentialsError for code in CREDENTIALS_CODES},
    **{code: ThrottlingError for code in THROTTLING_CODES},
}

_BY_STATUS: dict[int, type[QConnectError]] = {
    402: ServiceQuotaExceededError,
    403: AccessDeniedError,
    404: ResourceNotFoundError,
    409: ConflictError,
    429: ThrottlingError,
}


def error_for_code(code: str, http_status: int | None) -> type[QConnectError]:
    """The library class for a service error code and HTTP status."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    # An error we do not know yet is still the service's: keep its code (callers can match
    # on `.code`), and its class by status when the status says what to do about it.
    return _BY_STATUS.get(http_status or 0, ServiceError)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

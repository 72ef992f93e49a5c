"""The error tree of qconnect-async and the map from service error codes.

::

    QConnectError                         every failure the library raises
    ├── ValidationError (ValueError)      bad input, ours or the service's ValidationException
    ├── CredentialsError                  no credentials, or the service refused them (fix config)
    ├── AccessDeniedError (PermissionError)  these credentials may not touch this resource
    ├── ResourceNotFoundError (LookupError)  ``.resource_name``: what is missing (a KB, a job)
    ├── ConflictError                     409: the resource's state forbids it now
    ├── ServiceQuotaExceededError         402: a service quota is used up (never retried)
    ├── ThrottlingError                   throttled, still so after the retries allowed
    │   └── RateWaitExceededError         the send rate would keep it waiting past max_rate_wait
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
    "RateWaitExceededError",
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
    """Base of every error raised by qconnect-async.

    Catch it to handle every failure of the library at once; catch a subclass to handle what
    a caller does something about (the tree is in the Errors guide). The botocore exception,
    when there is one, is chained as ``__cause__``. Errors pickle (for multiprocessing and
    logging handlers), and nothing in them carries credentials or presigned URLs.

    Attributes:
        message: What went wrong, in words (the service's message when it sent one).
        code: The service's error code (``ThrottlingException``), or the library's own
            (``default_code`` of the class) when the service did not send one.
        http_status: The HTTP status of the answer, when there was one.
        request_id: The service's request ID (``x-amzn-RequestId``), for AWS support.
        operation: The operation that failed (``ListImportJobs``), when one did.
        knowledge_base_id: The knowledge base the failed request was about.
        next_token: The token of the page that failed: pass it as ``starting_token`` to
            resume a listing from there (None at a listing's start or outside one).
        retry_after: Seconds the service asked to wait (Retry-After), when it said so.
        upload_id: The upload (StartContentUpload's ``uploadId``) a failed upload or start
            was about.
        account_id: The AWS account the failed request went to, when the client knows it
            (a ``QConnectRouter``'s clients do; a ``QConnectClient`` leaves it None).
        region: The Region the failed request went to (None for a refused argument, checked
            before any request).

    Example:
        ```python
        try:
            jobs = [job async for job in client.list_import_jobs(kb_id)]
        except QConnectError as err:
            print(err.code, err.request_id, "resume from", err.next_token)
        ```
    """

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
        #: the AWS account (when known) and Region the failed request went to
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
    """The input was rejected, by this library before sending or by the service.

    The library checks what it can before any request (IDs and ARNs, page sizes, tokens,
    content, options), so most bad input costs no request; the service's
    ValidationException is this class too. Also a ``ValueError``. Never retried.
    """

    default_code = "ValidationException"


class CredentialsError(QConnectError):
    """No usable credentials were found, or the service refused them (or their signature).

    Fix the configuration: nothing else will help. Deliberately not an AccessDeniedError, so
    that code skipping the KBs it may not read does not silently skip every KB of a process
    that has no credentials at all. A clock off by minutes is corrected once (from the
    refusal's Date header) before this is raised. Never retried.
    """

    default_code = "CredentialsError"


class AccessDeniedError(QConnectError, PermissionError):
    """The caller's credentials may not do this (403 AccessDeniedException).

    Also a ``PermissionError``. Never retried.
    """

    default_code = "AccessDeniedException"


class ResourceNotFoundError(QConnectError, LookupError):
    """The knowledge base (or other resource) does not exist (404).

    Also a ``LookupError``. Never retried.
    """

    default_code = "ResourceNotFoundException"

    def __init__(self, message: str, *, resource_name: str | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        #: the missing resource as the service names it (its ``resourceName``): the KB's ID,
        #: the import job's or the upload's; None when the answer does not say
        self.resource_name = resource_name

    def _fields(self) -> Mapping[str, Any]:
        return {**super()._fields(), "resource_name": self.resource_name}


class ConflictError(QConnectError):
    """The resource's state forbids the request now (409 ConflictException).

    For example deleting an import job that is still running. Never retried: try again once
    the state changed.
    """

    default_code = "ConflictException"


class ServiceQuotaExceededError(QConnectError):
    """A service quota is used up (402 ServiceQuotaExceededException); retrying cannot help.

    For example too many imports running at once in one knowledge base. Never retried: wait
    for jobs to end, or raise the quota.
    """

    default_code = "ServiceQuotaExceededException"


class ThrottlingError(QConnectError):
    """The service throttled the request and the retries allowed did not get through.

    Throttles are retried, and slow the whole client down through its send rate; this is
    raised only once the attempts (``RetryPolicy.max_attempts``) or the retry quota are
    spent. ``retry_after`` holds the service's Retry-After, when it sent one.
    """

    default_code = "ThrottlingException"


class RateWaitExceededError(ThrottlingError):
    """Nothing was sent: the send rate would hold the request past its ``max_rate_wait``.

    ``retry_after``: seconds until the queue ahead of it is expected to have left.
    """

    default_code = "RateWaitExceeded"


class ServiceError(QConnectError):
    """The service failed (5xx) or answered with an error this library does not map.

    A 5xx is retried first; this is raised once the retries are spent. An error code this
    version does not know is kept in ``code``.
    """

    default_code = "ServiceError"


class TransportError(QConnectError):
    """No complete HTTP answer: the connection failed, timed out, or the body was cut short.

    Retried first; an endpoint that refuses connections (code ``EndpointConnectionError``)
    or never answers them (``ConnectTimeoutError``) gets ``RetryPolicy.max_connect_attempts``
    tries only.
    """

    default_code = "TransportError"


class DeadlineExceededError(TransportError, TimeoutError):
    """A deadline or timeout given to this library (a listing's, a wait's) passed first.

    Also a ``TimeoutError``. Never retried: the time given is spent. An import job whose wait
    timed out goes on in the service.
    """

    default_code = "DeadlineExceeded"


class MalformedResponseError(QConnectError):
    """A complete successful answer whose body is not what the service's model says.

    Not JSON, or a listing's page without its list of items: never read as "no items" (which
    botocore's own parser does). Never retried. A body cut short by the network is a
    TransportError instead, and is retried.
    """

    default_code = "MalformedResponse"


class PaginationLoopError(QConnectError):
    """The service sent a pagination token it had already sent in the same listing.

    Following it would list the same pages forever; any token seen before counts, not only
    the last one.
    """

    default_code = "PaginationLoop"


class ImportJobFailedError(QConnectError):
    """An awaited import job ended FAILED (or was deleted while awaited).

    Raised by ``QConnectClient.wait_for_import_job``. ``job`` is the ImportJob as last seen;
    its ``failed_record_report`` (a ``SecretStr``: a presigned URL) downloads the rows the
    service refused.

    Example:
        ```python
        try:
            await client.wait_for_import_job(kb_id, job_id)
        except ImportJobFailedError as err:
            report_url = err.job.failed_record_report.get_secret_value()
        ```
    """

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

"""The error tree: its classes and builtin bases, the map from service codes, pickling, the
one-line message, and the one Retry-After parser."""

from __future__ import annotations

import email.utils
import pickle
import time

import pytest

from qconnect_async import (
    AccessDeniedError,
    ConflictError,
    CredentialsError,
    QConnectError,
    ResourceNotFoundError,
    ServiceError,
    ServiceQuotaExceededError,
    ThrottlingError,
    ValidationError,
)
from qconnect_async._errors import error_for_code, retry_after_seconds

KB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("0.25", 0.25), ("-4", 0.0)])
def test_retry_after_in_seconds_is_read_as_seconds(header: str, seconds: float) -> None:
    """Delta-seconds are taken as they are, a negative one as no wait."""
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date_is_the_seconds_until_it() -> None:
    """An HTTP date is the seconds from now until that date."""
    header = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds(header)
    assert seconds is not None and 27 <= seconds <= 30


@pytest.mark.parametrize("header", [None, "", "soon", "Mon, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_none(header: str | None) -> None:
    """No header, an empty one or one that is neither a number nor a date: no wait asked."""
    assert retry_after_seconds(header) is None


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("ValidationException", 400, ValidationError),
        ("AccessDeniedException", 403, AccessDeniedError),
        ("ResourceNotFoundException", 404, ResourceNotFoundError),
        ("ThrottlingException", 400, ThrottlingError),
        ("TooManyRequestsException", 400, ThrottlingError),
        ("SlowDown", 503, ThrottlingError),
        ("Whatever", 429, ThrottlingError),
        ("InternalServerException", 500, ServiceError),
        ("Whatever", 503, ServiceError),
        ("Whatever", 403, AccessDeniedError),
        ("ConflictException", 409, ConflictError),
        ("Whatever", 409, ConflictError),
        ("ServiceQuotaExceededException", 402, ServiceQuotaExceededError),
        ("Whatever", 400, ServiceError),
        ("UnrecognizedClientException", 403, CredentialsError),
        ("InvalidSignatureException", 403, CredentialsError),
        ("Whatever", None, ServiceError),
    ],
)
def test_codes_map_to_classes(code: str, status: int, cls: type[QConnectError]) -> None:
    """Service codes and statuses map to the error tree."""
    assert error_for_code(code, status) is cls


def test_builtin_bases() -> None:
    """Callers can catch the built-in meanings."""
    assert issubclass(ValidationError, ValueError)
    assert issubclass(AccessDeniedError, PermissionError)
    assert issubclass(ResourceNotFoundError, LookupError)


def test_errors_pickle_with_their_fields() -> None:
    """An error crosses process boundaries with every field."""
    err = AccessDeniedError(
        "no",
        code="AccessDeniedException",
        http_status=403,
        request_id="r-1",
        operation="ListImportJobs",
        knowledge_base_id=KB,
        next_token="t",
    )
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is AccessDeniedError
    assert (again.code, again.http_status, again.request_id, again.next_token) == (
        "AccessDeniedException",
        403,
        "r-1",
        "t",
    )
    assert (again.message, again.operation, again.knowledge_base_id) == (
        "no",
        "ListImportJobs",
        KB,
    )


def test_an_error_says_what_failed_where_in_one_line() -> None:
    """str() is the code and message, then each field that is set, space-separated; repr()
    the class, code and message."""
    err = ConflictError(
        "busy",
        code="ConflictException",
        http_status=409,
        request_id="r-2",
        operation="StartImportJob",
        knowledge_base_id=KB,
        upload_id="u-1",
    )
    assert str(err) == (
        f"ConflictException: busy operation=StartImportJob knowledge_base_id={KB} "
        "upload_id=u-1 http_status=409 request_id=r-2"
    )
    assert str(ValidationError("bad")) == "ValidationException: bad"
    assert repr(err) == "ConflictError(code='ConflictException', message='busy')"


def test_an_errors_account_and_region_are_in_its_text() -> None:
    """An error of a router's client names its account and Region in str()."""
    error = ServiceError("boom", account_id="123456789012", region="eu-west-2")
    assert "account_id=123456789012" in str(error)
    assert "region=eu-west-2" in str(error)


def test_an_errors_args_are_its_message_as_for_any_exception() -> None:
    """args[0] is the message (what code reading any exception's args finds), fields aside."""
    error = ServiceError("boom", code="InternalServerException", http_status=500)
    assert error.args == ("boom",)


def test_a_retry_after_date_already_past_means_now() -> None:
    """A Retry-After HTTP date in the past waits nothing (0 s, never negative or more)."""
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert retry_after_seconds(past) == 0.0

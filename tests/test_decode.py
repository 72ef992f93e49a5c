"""The answers' bodies: decoded into typed values, a malformed body told from one cut short."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from qconnect_async import MalformedResponseError, TransportError
from qconnect_async._call import Call
from qconnect_async._decode import (
    INCOMPLETE_BODY,
    content_upload,
    import_job_page,
    knowledge_base_page,
    raw_response,
)

KB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CALL = Call("ListImportJobs", KB, next_token="t0")
JOB = (
    b'{"importJobId": "j-1", "knowledgeBaseId": "' + KB.encode() + b'", "uploadId": "u-1",'
    b' "knowledgeBaseArn": "arn", "importJobType": "QUICK_RESPONSES", "status": "COMPLETE",'
    b' "createdTime": 1700000000, "lastModifiedTime": 1700000000}'
)


def raw(body: bytes, headers: dict[str, str] | None = None) -> dict[str, object]:
    return raw_response(body, 200, {"x-amzn-requestid": "r-1", **(headers or {})})


def test_a_raw_page_is_decoded_for_the_calls_knowledge_base() -> None:
    """A raw ListImportJobs body becomes an ImportJobPage of the call's KB; "" ends it."""
    page = import_job_page(raw(b'{"importJobSummaries": [' + JOB + b'], "nextToken": ""}'), CALL)
    assert page.knowledge_base_id == KB and page.next_token is None
    assert [job.import_job_id for job in page.items] == ["j-1"]
    assert page.items[0].created_time.tzinfo is not None


def test_a_complete_body_that_breaks_the_model_is_malformed() -> None:
    """Valid JSON without the list: MalformedResponseError, complete with the call's fields."""
    with pytest.raises(MalformedResponseError) as info:
        import_job_page(raw(b'{"nextToken": "t1"}', {"content-length": "18"}), CALL)
    error = info.value
    assert (error.operation, error.knowledge_base_id, error.next_token) == (
        "ListImportJobs",
        KB,
        "t0",
    )
    assert (error.http_status, error.request_id) == (200, "r-1")


def test_a_close_delimited_body_cut_mid_document_is_a_transport_error() -> None:
    """No Content-Length and the JSON stops midway: the connection closed early (sent again);
    the error says so, with the answer's status and request ID and the call's fields."""
    with pytest.raises(TransportError) as info:
        import_job_page(raw(b'{"importJobSummaries": [' + JOB[:40]), CALL)
    error = info.value
    assert error.code == INCOMPLETE_BODY
    assert error.message == "the response body ended mid-document: the connection closed early"
    assert (error.http_status, error.request_id) == (200, "r-1")
    assert (error.operation, error.knowledge_base_id, error.next_token) == (
        "ListImportJobs",
        KB,
        "t0",
    )


def test_a_body_cut_with_its_length_given_is_malformed_not_cut() -> None:
    """With a Content-Length the HTTP layer would have seen a cut: the body is wrong as sent."""
    with pytest.raises(MalformedResponseError):
        import_job_page(raw(b'{"importJobSummaries": [', {"Content-Length": "24"}), CALL)


def test_a_borrowed_clients_answer_without_the_list_is_malformed_never_empty() -> None:
    """botocore turns bad JSON into {}: a parsed answer without its list is no empty page."""
    call = Call("ListKnowledgeBases")
    answer = {"ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "r-9"}}
    with pytest.raises(MalformedResponseError, match="knowledgeBaseSummaries") as info:
        knowledge_base_page(answer, call)
    error = info.value
    assert (error.http_status, error.request_id, error.operation) == (
        200,
        "r-9",
        "ListKnowledgeBases",
    )


def url_expiry_of(expiry: datetime) -> datetime:
    """urlExpiry as decoded from a borrowed client's StartContentUpload answer."""
    answer = {
        "uploadId": "u-1",
        "url": "https://example.invalid/put",
        "urlExpiry": expiry,
        "headersToInclude": {"content-type": "text/csv"},
    }
    return content_upload(answer, Call("StartContentUpload", KB)).url_expiry


def test_a_borrowed_clients_local_times_become_utc() -> None:
    """botocore's parser gives tzlocal (or naive) datetimes: decoded, they are UTC."""
    expiry = url_expiry_of(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert expiry == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert expiry.tzinfo == UTC


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This host's local time zone is New York's (UTC-5 in January) for the test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("host_in_new_york")
@pytest.mark.parametrize(
    "expiry",
    [
        datetime(2026, 1, 1, 12),  # naive: botocore's UTC without a zone
        datetime(2026, 1, 1, 14, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_a_borrowed_clients_times_are_utc_whatever_this_host_s_zone(expiry: datetime) -> None:
    """On a host whose zone is not UTC, a naive time is read as UTC (not local), and an aware
    one is given in UTC (not in the host's zone)."""
    decoded = url_expiry_of(expiry)
    assert decoded == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert decoded.utcoffset() == timedelta(0)


def test_an_upload_answer_without_its_id_is_malformed() -> None:
    """StartContentUpload's answer must carry an uploadId."""
    with pytest.raises(MalformedResponseError, match="uploadId"):
        content_upload({"url": "https://example.invalid/put"}, Call("StartContentUpload", KB))


def test_a_chunked_body_cut_mid_document_is_malformed_not_cut() -> None:
    """A chunked body ends with its last chunk: the HTTP layer sees a cut, so it is not one."""
    cut = b'{"importJobSummaries": [' + JOB[:40]
    with pytest.raises(MalformedResponseError):
        import_job_page(raw(cut, {"Transfer-Encoding": "chunked"}), CALL)


def test_a_close_delimited_body_that_is_wrong_json_throughout_is_malformed_not_cut() -> None:
    """Bad JSON that does not stop midway (a wrong word) was sent so: sending again won't help."""
    with pytest.raises(MalformedResponseError, match="Invalid JSON"):
        import_job_page(raw(b'{"importJobSummaries": [tru]}'), CALL)


def test_a_malformed_answer_names_where_the_body_breaks_the_model() -> None:
    """The message names the first field that breaks the model, by its path in the body."""
    body = b'{"importJobSummaries": [' + JOB.replace(b'"uploadId": "u-1"', b'"uploadId": 5') + b"]}"
    with pytest.raises(MalformedResponseError) as info:
        import_job_page(raw(body, {"content-length": str(len(body))}), CALL)
    assert info.value.message.startswith(
        "the response does not match the service model: importJobSummaries.0.uploadId: "
    )
    assert "more)" not in info.value.message


def test_a_malformed_answer_counts_the_other_breaks() -> None:
    """With several fields wrong, the first is named and the others counted."""
    body = b'{"importJobSummaries": 5, "nextToken": 7}'
    with pytest.raises(MalformedResponseError) as info:
        import_job_page(raw(body, {"content-length": str(len(body))}), CALL)
    assert info.value.message.startswith(
        "the response does not match the service model: importJobSummaries: "
    )
    assert info.value.message.endswith(" (and 1 more)")


def test_a_body_that_is_not_an_object_is_named_the_body() -> None:
    """An error about the document as a whole has no field path: it says "body"."""
    with pytest.raises(MalformedResponseError) as info:
        import_job_page(raw(b"[]", {"content-length": "2"}), CALL)
    message = info.value.message
    assert message.startswith("the response does not match the service model: body: ")
    assert message.endswith("Input should be an object")


def test_a_borrowed_clients_knowledge_base_page_is_decoded() -> None:
    """A parsed ListKnowledgeBases answer with its list is a page, not malformed."""
    answer = {"knowledgeBaseSummaries": [], "ResponseMetadata": {"HTTPStatusCode": 200}}
    page = knowledge_base_page(answer, Call("ListKnowledgeBases"))
    assert page.items == () and page.next_token is None


def test_an_upload_answer_without_its_id_names_the_call_and_the_answer() -> None:
    """The MalformedResponseError of an upload answer without uploadId carries the call's
    fields and the answer's status and request ID."""
    answer = {
        "url": "https://example.invalid/put",
        "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "r-9"},
    }
    with pytest.raises(MalformedResponseError) as info:
        content_upload(answer, Call("StartContentUpload", KB))
    error = info.value
    assert error.message == "the response has no uploadId"
    assert (error.operation, error.knowledge_base_id) == ("StartContentUpload", KB)
    assert (error.http_status, error.request_id) == (200, "r-9")


def test_an_upload_answer_with_its_id_but_no_url_is_malformed_naming_the_call() -> None:
    """An uploadId without the rest of the answer breaks the model: malformed, with the call."""
    with pytest.raises(MalformedResponseError) as info:
        content_upload({"uploadId": "u-1"}, Call("StartContentUpload", KB))
    assert info.value.operation == "StartContentUpload"

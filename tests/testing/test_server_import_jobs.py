"""The fake's import-job lifecycle, over real HTTP: upload URL, PUT, start, poll, report, delete.

Every botocore response is checked against the model's shapes (`WireLog`, the `client` fixture of
conftest.py); the PUT and the report GET are plain HTTP, as a client of S3 makes them.
"""

from __future__ import annotations

import csv
import email.utils
import http.client
import io
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from _server_helpers import NO_RETRY, WireLog, make_client
from aiobotocore.session import get_session

from qconnect_async.testing import QConnectServer

GOOD_CSV = b"Name,Content,ShortcutKey\nHello,Hi there,hi\nBye,See you,bye\n"
BAD_CSV = b"Name,Content\nHello,Hi there\n,No name\nEmpty content,\nOk,Fine\n"


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    return qconnect_server.create_knowledge_base()


def put(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """A plain HTTP PUT; (status, body)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def upload(client: Any, kb: str, body: bytes) -> str:
    """StartContentUpload and a PUT with exactly the named headers; the upload ID."""
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    status, _ = put(answer["url"], body, answer["headersToInclude"])
    assert status == 200
    return str(answer["uploadId"])


def start(client: Any, kb: str, upload_id: str, **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = client.start_import_job(
        knowledgeBaseId=kb, importJobType="QUICK_RESPONSES", uploadId=upload_id, **extra
    )["importJob"]
    return job


def error_code(call: Any) -> tuple[int, str]:
    with pytest.raises(Exception) as info:
        call()
    response = info.value.response  # type: ignore[attr-defined]
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_presigned_put_with_the_named_headers_stores_the_bytes(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """The URL of StartContentUpload takes a real PUT; the server keeps exactly those bytes."""
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    assert set(answer["headersToInclude"]) == {"Content-Type", "x-amz-server-side-encryption"}
    assert answer["url"].startswith(qconnect_server.endpoint_url)
    status, _ = put(answer["url"], GOOD_CSV, answer["headersToInclude"])
    assert status == 200
    assert qconnect_server.uploaded(answer["uploadId"]) == GOOD_CSV


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"drop": "x-amz-server-side-encryption"}, b"SignatureDoesNotMatch"),
        ({"set": ("Content-Type", "text/plain")}, b"SignatureDoesNotMatch"),
        ({"set": ("x-amz-meta-extra", "1")}, b"not signed"),
    ],
)
def test_a_put_without_exactly_the_named_headers_is_refused(
    qconnect_server: QConnectServer, client: Any, kb: str, change: dict[str, Any], code: bytes
) -> None:
    """A missing or changed named header, or an unnamed x-amz-* one, is S3's 403; nothing kept."""
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    headers = dict(answer["headersToInclude"])
    if "drop" in change:
        del headers[change["drop"]]
    else:
        headers[change["set"][0]] = change["set"][1]
    status, body = put(answer["url"], GOOD_CSV, headers)
    assert status == 403 and code in body and body.startswith(b"<?xml")
    assert qconnect_server.uploaded(answer["uploadId"]) is None


def test_a_put_with_a_forged_signature_is_refused(client: Any, kb: str) -> None:
    """Only the URL as handed out works: another signature is a 403."""
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    forged = answer["url"].split("X-Amz-Signature=")[0] + "X-Amz-Signature=00"
    assert put(forged, GOOD_CSV, answer["headersToInclude"])[0] == 403


def test_upload_faults_slow_down_then_expiry(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """fail_uploads: S3's 503 SlowDown XML; expire_upload_urls: 403 'Request has expired'."""
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    qconnect_server.fail_uploads()
    qconnect_server.expire_upload_urls()
    status, body = put(answer["url"], GOOD_CSV, answer["headersToInclude"])
    assert status == 503 and b"<Code>SlowDown</Code>" in body
    status, body = put(answer["url"], GOOD_CSV, answer["headersToInclude"])
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body
    assert put(answer["url"], GOOD_CSV, answer["headersToInclude"])[0] == 200
    assert qconnect_server.stats.requests["PutObject"] == 3


def test_a_url_expires_for_real_at_its_expiry_on_the_servers_clock(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """presignedUrlTimeToLive=1: urlExpiry a minute on; a PUT past it (the server's clock moved
    61 s on) is S3's 403 "Request has expired" and stores nothing."""
    answer = client.start_content_upload(
        knowledgeBaseId=kb, contentType="text/csv", presignedUrlTimeToLive=1
    )
    issued = answer["ResponseMetadata"]["HTTPHeaders"]["date"]
    left = answer["urlExpiry"] - email.utils.parsedate_to_datetime(issued)
    assert 59 <= left.total_seconds() <= 61
    qconnect_server.set_clock_offset(61)
    status, body = put(answer["url"], GOOD_CSV, answer["headersToInclude"])
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body
    assert qconnect_server.uploaded(answer["uploadId"]) is None
    qconnect_server.set_clock_offset(0)
    assert put(answer["url"], GOOD_CSV, answer["headersToInclude"])[0] == 200


def test_start_needs_a_known_upload_with_content(client: Any, kb: str) -> None:
    """An unknown uploadId is a 404 ResourceNotFound; one never PUT is a 400 ValidationException."""
    assert error_code(lambda: start(client, kb, "nope")) == (404, "ResourceNotFoundException")
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    assert error_code(lambda: start(client, kb, answer["uploadId"])) == (
        400,
        "ValidationException",
    )


def test_a_good_csv_completes_and_get_gives_url_and_expiry(client: Any, kb: str) -> None:
    """START_IN_PROGRESS, then COMPLETE; GetImportJob carries url and urlExpiry, no report."""
    upload_id = upload(client, kb, GOOD_CSV)
    job = start(client, kb, upload_id)
    assert job["status"] == "START_IN_PROGRESS" and job["uploadId"] == upload_id
    got = [client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"]) for _ in "ab"]
    assert [g["importJob"]["status"] for g in got] == ["START_IN_PROGRESS", "COMPLETE"]
    assert "X-Amz-Signature" in got[1]["importJob"]["url"]
    assert got[1]["importJob"]["urlExpiry"].tzinfo is not None
    assert "failedRecordReport" not in got[1]["importJob"]


def test_bad_rows_fail_the_job_with_a_downloadable_report(client: Any, kb: str) -> None:
    """Rows without Name or Content fail the job; its report is a CSV of exactly those rows."""
    job = start(client, kb, upload(client, kb, BAD_CSV))
    for _ in "ab":
        failed = client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])
    failed = failed["importJob"]
    assert failed["status"] == "FAILED"
    status, report = get(failed["failedRecordReport"])
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(report.decode())))
    assert [(r["RowNumber"], r["Name"], r["Content"]) for r in rows] == [
        ("2", "", "No name"),
        ("3", "Empty content", ""),
    ]
    assert all(r["ErrorMessage"] for r in rows)
    forged = failed["failedRecordReport"].split("X-Amz-Signature=")[0] + "X-Amz-Signature=0"
    assert get(forged)[0] == 403


def test_the_csv_rules(client: Any, kb: str) -> None:
    """No Name column fails every row; more than 100 rows fails the extra ones; blank lines
    pass; a row csv cannot read fails, and ends the file."""

    def final(body: bytes) -> dict[str, Any]:
        job = start(client, kb, upload(client, kb, body))
        for _ in "ab":
            got = client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])
        result: dict[str, Any] = got["importJob"]
        return result

    assert final(b"Title,Content\nA,B\n")["status"] == "FAILED"
    many = b"Name,Content\n" + b"".join(b"n%d,c\n" % i for i in range(101))
    report = get(final(many)["failedRecordReport"])[1].decode()
    assert [r["RowNumber"] for r in csv.DictReader(io.StringIO(report))] == ["101"]
    assert final(b"Name,Content\nA,B\n\n")["status"] == "COMPLETE"
    # A cell over csv's field limit (128 KiB): that row fails, reading stops, no 500.
    unreadable = b"Name,Content\nA,B\nC," + b"x" * 200_000 + b"\nD,E\n"
    report = get(final(unreadable)["failedRecordReport"])[1].decode()
    rows = list(csv.DictReader(io.StringIO(report)))
    assert [r["RowNumber"] for r in rows] == ["2"] and "CSV" in rows[0]["ErrorMessage"]


def test_rows_are_checked_against_the_models_quick_response_limits(client: Any, kb: str) -> None:
    """Name, content, shortcut key, language and content type within the model's bounds;
    each row that breaks one is in the report with the service's message, the rest import."""
    # The bounds of the botocore installed (older models allowed 1,024 characters of content).
    content = client.meta.service_model.shape_for("QuickResponseContent").metadata["max"]
    rows = [
        ["Name", "Content", "Shortcut Key", "Language", "Content_Type"],
        ["ok", "fine", "ok", "en_US", "application/x.quickresponse;format=markdown"],
        ["n" * 101, "c", "", "", ""],
        ["n", "c" * (content + 1), "", "", ""],
        ["n", "c", "k" * 11, "", ""],
        ["n", "c", "", "e", ""],
        ["n", "c", "", "", "text/plain"],
        ["also ok", "c" * content, "k" * 10, "en", ""],
    ]
    body = "".join(",".join(row) + "\n" for row in rows).encode()
    job = start(client, kb, upload(client, kb, body))
    for _ in "ab":
        got = client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])
    assert got["importJob"]["status"] == "FAILED"
    report = get(got["importJob"]["failedRecordReport"])[1].decode()
    refused = {r["RowNumber"]: r["ErrorMessage"] for r in csv.DictReader(io.StringIO(report))}
    assert sorted(refused) == ["2", "3", "4", "5", "6"]
    assert (
        "'Name' failed to satisfy constraint: Member must have length less than or equal to 100"
        in refused["2"]
    )
    assert f"length less than or equal to {content}" in refused["3"]
    assert "'Shortcut Key'" in refused["4"] and "less than or equal to 10" in refused["4"]
    assert "'Language'" in refused["5"] and "greater than or equal to 2" in refused["5"]
    assert "regular expression pattern" in refused["6"]


def test_a_jobs_url_downloads_what_was_imported_until_it_expires(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """GET on a job's url returns the uploaded bytes and type; forged or expired: S3's 403."""
    job = start(client, kb, upload(client, kb, GOOD_CSV))
    got = client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])["importJob"]
    with urllib.request.urlopen(got["url"], timeout=10) as response:
        assert (response.read(), response.headers["Content-Type"]) == (GOOD_CSV, "text/csv")
    assert get(job["url"]) == (200, GOOD_CSV)  # StartImportJob's link works too
    assert 3590 < (got["urlExpiry"] - got["createdTime"]).total_seconds() < 3610
    forged = got["url"].split("X-Amz-Signature=")[0] + "X-Amz-Signature=0"
    assert get(forged)[0] == 403
    qconnect_server.set_clock_offset(3601)  # past the link's expiry, on the server's clock
    status, body = get(got["url"])
    assert status == 403 and b"Request has expired" in body


def test_a_seeded_jobs_url_downloads_an_empty_quick_response_file(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A seeded job imported nothing: its url serves a CSV header; a FAILED one has a report."""
    (done,) = qconnect_server.add_import_jobs(kb, 1, status="COMPLETE")
    (failed,) = qconnect_server.add_import_jobs(kb, 1, status="FAILED")
    got = client.get_import_job(knowledgeBaseId=kb, importJobId=done)["importJob"]
    assert get(got["url"]) == (200, b"Name,Content\n")
    got = client.get_import_job(knowledgeBaseId=kb, importJobId=failed)["importJob"]
    assert get(got["failedRecordReport"]) == (200, b"RowNumber,ErrorMessage\n")


def test_only_a_quick_responses_kb_takes_an_import(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """StartImportJob into a CUSTOM KB is a ValidationException; its upload is still taken."""
    custom = qconnect_server.create_knowledge_base(knowledge_base_type="CUSTOM")
    upload_id = upload(client, custom, GOOD_CSV)  # StartContentUpload stays open to CUSTOM
    assert error_code(lambda: start(client, custom, upload_id)) == (400, "ValidationException")
    assert qconnect_server.uploaded(upload_id) == GOOD_CSV


def test_client_token_makes_start_idempotent(client: Any, kb: str) -> None:
    """Same token and input: the same job; same token, other input: 409 ConflictException."""
    upload_id = upload(client, kb, GOOD_CSV)
    first = start(client, kb, upload_id, clientToken="t-1")
    again = start(client, kb, upload_id, clientToken="t-1")
    assert again["importJobId"] == first["importJobId"]
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 1
    other = lambda: start(client, kb, upload_id, clientToken="t-1", metadata={"k": "v"})  # noqa: E731
    assert error_code(other) == (409, "ConflictException")
    assert start(client, kb, upload_id, clientToken="t-2")["importJobId"] != first["importJobId"]


def test_deleting_a_running_job_is_a_conflict(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """DeleteImportJob of a job in START_IN_PROGRESS is a 409 (and no read); finished, a 204."""
    job_id = start(client, kb, upload(client, kb, GOOD_CSV))["importJobId"]
    delete = lambda: client.delete_import_job(knowledgeBaseId=kb, importJobId=job_id)  # noqa: E731
    assert error_code(delete) == (409, "ConflictException")
    assert error_code(delete) == (409, "ConflictException")
    # Two deletes did not move it along; the first read still sees it running, the next not.
    statuses = [
        client.get_import_job(knowledgeBaseId=kb, importJobId=job_id)["importJob"]["status"]
        for _ in "ab"
    ]
    assert statuses == ["START_IN_PROGRESS", "COMPLETE"]
    assert delete()["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_the_job_quota_is_per_kb_and_a_402(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """set_job_quota(1): a second running job of a KB is ServiceQuotaExceeded 402; others start."""
    qconnect_server.set_job_completion(after_reads=None)
    qconnect_server.set_job_quota(1)
    start(client, kb, upload(client, kb, GOOD_CSV))
    again = lambda: start(client, kb, upload(client, kb, GOOD_CSV))  # noqa: E731
    assert error_code(again) == (402, "ServiceQuotaExceededException")
    other = qconnect_server.create_knowledge_base()
    assert start(client, other, upload(client, other, GOOD_CSV))["status"] == "START_IN_PROGRESS"
    qconnect_server.set_job_quota(None)
    assert again()["status"] == "START_IN_PROGRESS"


def test_the_listing_fast_route_still_answers_started_jobs(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """ListImportJobs shows a started job's summary (no url, no report) and its status change."""
    job = start(client, kb, upload(client, kb, BAD_CSV))
    pages = [client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"] for _ in "ab"]
    assert [p[0]["status"] for p in pages] == ["START_IN_PROGRESS", "FAILED"]
    assert pages[1][0]["importJobId"] == job["importJobId"]
    assert "url" not in pages[1][0] and "failedRecordReport" not in pages[1][0]


def run_flow_with_boto3(server: QConnectServer, kb: str) -> list[str]:
    """The whole flow with boto3 alone: upload, start, poll, report, delete."""
    client = make_client(server)
    wire = WireLog()
    client.meta.events.register("before-parse.qconnect.*", wire)
    try:
        answer = client.start_content_upload(
            knowledgeBaseId=kb, contentType="text/csv", presignedUrlTimeToLive=5
        )
        assert put(answer["url"], BAD_CSV, answer["headersToInclude"])[0] == 200
        job = start(client, kb, answer["uploadId"], clientToken="boto3")
        while job["status"] == "START_IN_PROGRESS":
            job = client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])[
                "importJob"
            ]
        report = get(job["failedRecordReport"])[1].decode()
        assert get(job["url"]) == (200, BAD_CSV)  # what was imported
        client.delete_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])
        ids = {"knowledgeBaseId": kb, "importJobId": job["importJobId"]}
        deleting = [client.get_import_job(**ids)["importJob"]["status"] for _ in "ab"]
    finally:
        client.close()
    assert wire.errors == []
    rows = [r["RowNumber"] for r in csv.DictReader(io.StringIO(report))]
    return [job["status"], *rows, *deleting]


def test_boto3_runs_the_whole_flow(qconnect_server: QConnectServer, kb: str) -> None:
    """Contract: boto3 uploads, starts, polls to FAILED, reads the report, downloads what it
    imported, and deletes: DELETE_IN_PROGRESS, then DELETED."""
    assert run_flow_with_boto3(qconnect_server, kb) == [
        "FAILED",
        "2",
        "3",
        "DELETE_IN_PROGRESS",
        "DELETED",
    ]


async def test_aiobotocore_runs_the_whole_flow(qconnect_server: QConnectServer, kb: str) -> None:
    """Contract: aiobotocore (and aiohttp for the PUT) runs the same flow to COMPLETE."""
    import aiohttp

    wire = WireLog()
    session = get_session()
    async with session.create_client(
        "qconnect",
        endpoint_url=qconnect_server.endpoint_url,
        region_name=qconnect_server.region,
        config=NO_RETRY,
    ) as client:
        client.meta.events.register("before-parse.qconnect.*", wire)
        answer = await client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
        async with (
            aiohttp.ClientSession() as http,
            http.put(answer["url"], data=GOOD_CSV, headers=answer["headersToInclude"]) as put_reply,
        ):
            assert put_reply.status == 200
        job = (
            await client.start_import_job(
                knowledgeBaseId=kb, importJobType="QUICK_RESPONSES", uploadId=answer["uploadId"]
            )
        )["importJob"]
        while job["status"] == "START_IN_PROGRESS":
            job = (await client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"]))[
                "importJob"
            ]
        assert job["status"] == "COMPLETE" and "failedRecordReport" not in job
        async with aiohttp.ClientSession() as http, http.get(job["url"]) as download:
            assert (download.status, await download.read()) == (200, GOOD_CSV)
        await client.delete_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])
        got = await client.get_import_job(knowledgeBaseId=kb, importJobId=job["importJobId"])
        assert got["importJob"]["status"] == "DELETE_IN_PROGRESS"
    assert wire.errors == []


def test_disconnect_uploads_closes_the_connection_unanswered(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """disconnect_uploads: the PUT's (kept-alive) connection ends with no reply; nothing kept."""
    answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
    qconnect_server.disconnect_uploads()
    url = urllib.parse.urlsplit(answer["url"])
    # http.client keeps the connection alive (urllib would ask to close it).
    connection = http.client.HTTPConnection(url.netloc, timeout=10)
    try:
        connection.request(
            "PUT", f"{url.path}?{url.query}", body=GOOD_CSV, headers=answer["headersToInclude"]
        )
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            connection.getresponse()
    finally:
        connection.close()
    assert qconnect_server.uploaded(answer["uploadId"]) is None
    assert put(answer["url"], GOOD_CSV, answer["headersToInclude"])[0] == 200


def test_the_import_controls_work_over_http(qconnect_server: QConnectServer, kb: str) -> None:
    """RemoteQConnectServer drives the upload faults, the quota and reads uploads over HTTP."""
    from qconnect_async.testing import RemoteQConnectServer

    remote = RemoteQConnectServer(qconnect_server.endpoint_url)
    client = make_client(qconnect_server)
    try:
        answer = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
        remote.fail_uploads(times=1)
        remote.expire_upload_urls(times=1)
        statuses = [put(answer["url"], GOOD_CSV, answer["headersToInclude"])[0] for _ in "abc"]
        assert statuses == [503, 403, 200]
        assert remote.uploaded(answer["uploadId"]) == GOOD_CSV
        remote.set_job_quota(0)
        assert error_code(lambda: start(client, kb, answer["uploadId"]))[0] == 402
    finally:
        client.close()
    with pytest.raises(ValueError, match="times"):
        remote.fail_uploads(times=0)

"""Managing import jobs over real HTTP: upload and start, get, delete, wait, and their errors."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import math
import pickle
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

import qconnect_async._upload
from _limiters import AskedLimiter
from qconnect_async import (
    AccessDeniedError,
    ConflictError,
    DeadlineExceededError,
    ImportJob,
    ImportJobFailedError,
    ImportJobStatus,
    QConnectClient,
    QConnectError,
    ResourceNotFoundError,
    RetryPolicy,
    ServiceQuotaExceededError,
    TransportError,
    ValidationError,
)
from qconnect_async._config import set_testing
from qconnect_async._imports import FIRST_POLL_DELAY, MAX_POLL_DELAY, MAX_UPLOADS, poll_delay
from qconnect_async.testing import QConnectServer, RemoteQConnectServer

GOOD_CSV = b"Name,Content\nHello,Hi there\nBye,See you\n"
BAD_CSV = b"Name,Content\nHello,Hi there\n,No name\n"
SECRET = "X-Amz-Signature"


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    return qconnect_server.create_knowledge_base("kb")


def requests(server: QConnectServer, operation: str) -> int:
    return server.stats.requests.get(operation, 0)


async def download(url: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.read()


async def test_start_uploads_the_bytes_then_wait_returns_the_completed_job(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Bytes go up with a PUT, the job starts, the waiter returns it COMPLETE with its URL."""
    job = await client.start_import_job(kb, GOOD_CSV, metadata={"team": "support"})
    assert job.status == ImportJobStatus.START_IN_PROGRESS and job.metadata == {"team": "support"}
    assert qconnect_server.uploaded(job.upload_id) == GOOD_CSV
    done = await client.wait_for_import_job(kb, job.import_job_id)
    assert done.status == ImportJobStatus.COMPLETE and done.import_job_id == job.import_job_id
    assert done.url is not None and SECRET in done.url.get_secret_value()
    assert done.url_expiry is not None and done.url_expiry.utcoffset() is not None
    assert done.failed_record_report is None
    counts = {op: requests(qconnect_server, op) for op in ("StartContentUpload", "PutObject")}
    assert counts == {"StartContentUpload": 1, "PutObject": 1}


@pytest.mark.parametrize("as_str", [True, False])
async def test_a_file_is_streamed_in_chunks_and_arrives_whole(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    tmp_path: Path,
    as_str: bool,
) -> None:
    """A path (str or Path) larger than one read chunk arrives byte for byte, not chunked."""
    body = b"Name,Content\n" + b"".join(b"n%06d,%s\n" % (i, b"x" * 90) for i in range(8000))
    path = tmp_path / "quick.csv"
    path.write_bytes(body)
    job = await client.start_import_job(kb, str(path) if as_str else path)
    assert qconnect_server.uploaded(job.upload_id) == body


@pytest.fixture(scope="module")
def server_process() -> Iterator[RemoteQConnectServer]:
    """A QConnectServer in a process of its own: this process's memory is the client's alone."""
    command = [sys.executable, "-m", "qconnect_async.testing", "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            yield RemoteQConnectServer(json.loads(process.stdout.readline())["endpoint_url"])
        finally:
            process.terminate()
            process.wait(timeout=10)


#: Paths whose opens `_note_opens` records, with the thread that opened them.
_watched: dict[str, list[int]] = {}


def _note_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _watched and str(args[0]) in _watched:
        _watched[str(args[0])].append(threading.get_ident())


sys.addaudithook(_note_opens)  # audit hooks cannot be removed: this one idles when unwatched


async def test_a_file_is_streamed_off_the_loop_never_held_whole(
    server_process: RemoteQConnectServer, tmp_path: Path
) -> None:
    """An 8 MB file goes up whole, yet the client never holds more than a few chunks of it,
    and opens it once, in a worker thread (the loop never waits for the disk)."""
    size = 8 * 1024 * 1024
    path = tmp_path / "big.csv"
    row = b"n,%s\n" % (b"x" * 1020)
    path.write_bytes(b"Name,Content\n" + row * (size // len(row)))
    kb = server_process.create_knowledge_base("big")
    async with QConnectClient(
        endpoint_url=server_process.endpoint_url, region_name="us-east-1"
    ) as client:
        await client.start_import_job(kb, b"Name,Content\nwarm,up\n")  # connections, models
        _watched[str(path)] = opened = []
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            job = await client.start_import_job(kb, path)
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
            del _watched[str(path)]
    assert server_process.uploaded(job.upload_id) == path.read_bytes()
    assert peak < size / 4, f"the client held {peak} bytes of an {size}-byte upload at once"
    assert len(opened) == 1 and opened[0] != threading.get_ident()


async def test_a_failed_job_raises_with_its_report(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """FAILED raises ImportJobFailedError naming the KB, upload and Region; .job carries the
    report URL, which lists the bad rows."""
    job = await client.start_import_job(kb, BAD_CSV)
    with pytest.raises(ImportJobFailedError) as info:
        await client.wait_for_import_job(kb, job.import_job_id)
    failed = info.value.job
    assert isinstance(failed, ImportJob) and failed.status == ImportJobStatus.FAILED
    assert info.value.knowledge_base_id == kb and info.value.upload_id == job.upload_id
    assert info.value.region == "us-east-1"
    assert failed.failed_record_report is not None
    report = await download(failed.failed_record_report.get_secret_value())
    rows = list(csv.DictReader(io.StringIO(report.decode())))
    assert [(r["RowNumber"], r["Content"]) for r in rows] == [("2", "No name")]
    assert pickle.loads(pickle.dumps(info.value)).job == failed


async def test_presigned_urls_stay_out_of_repr_str_dumps_errors_and_logs(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, caplog: Any
) -> None:
    """url and failed_record_report never show in repr, str, a JSON dump, an error or our logs."""
    caplog.set_level(logging.DEBUG, logger="qconnect_async")
    qconnect_server.expire_upload_urls()
    qconnect_server.fail_uploads()
    job = await client.start_import_job(kb, BAD_CSV)
    with pytest.raises(ImportJobFailedError) as info:
        await client.wait_for_import_job(kb, job.import_job_id)
    failed = info.value.job
    qconnect_server.fail_uploads(status=400, code="EntityTooLarge", message="Too large")
    with pytest.raises(QConnectError) as put_error:
        await client.start_import_job(kb, GOOD_CSV)
    shown = [
        repr(failed),
        str(failed),
        failed.model_dump_json(),
        str(info.value),
        repr(info.value),
        str(put_error.value),
        repr(put_error.value.__cause__),
        *(record.getMessage() for record in caplog.records),
    ]
    assert not [text for text in shown if SECRET in text or "qconnect-uploads" in text]


async def test_client_token_is_the_same_on_every_retry(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """A retried StartImportJob sends the clientToken of its first attempt: one job."""
    tokens: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        tokens.append(json.loads(params["body"])["clientToken"])

    session = AioSession()
    config = AioConfig(retries={"total_max_attempts": 1})
    async with session.create_client(
        "qconnect", endpoint_url=qconnect_server.endpoint_url, config=config
    ) as raw:
        raw.meta.events.register("before-call.qconnect.StartImportJob", record)
        client = QConnectClient.from_client(raw)
        qconnect_server.fail("StartImportJob", times=2)
        job = await client.start_import_job(kb, GOOD_CSV)
        given = await client.start_import_job(kb, GOOD_CSV, client_token="mine")
        await client.close()
    assert len(tokens) == 4 and tokens[0] == tokens[1] == tokens[2] and tokens[3] == "mine"
    assert tokens[0] != "mine" and len(tokens[0]) == 36  # a uuid4
    listed = {j.import_job_id for j in [job, given]}
    assert len(listed) == 2 and requests(qconnect_server, "StartImportJob") == 4


async def test_slow_down_on_the_put_is_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """S3's 503 SlowDown on the PUT is retried with the same URL; the import then starts."""
    qconnect_server.fail_uploads(times=2)
    job = await client.start_import_job(kb, GOOD_CSV)
    assert qconnect_server.uploaded(job.upload_id) == GOOD_CSV
    assert requests(qconnect_server, "PutObject") == 3
    assert requests(qconnect_server, "StartContentUpload") == 1


async def test_an_expired_url_gets_a_new_upload(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A PUT refused as expired asks StartContentUpload again and PUTs to the new URL."""
    qconnect_server.expire_upload_urls()
    job = await client.start_import_job(kb, GOOD_CSV)
    assert requests(qconnect_server, "StartContentUpload") == 2
    assert requests(qconnect_server, "PutObject") == 2
    assert qconnect_server.uploaded(job.upload_id) == GOOD_CSV


async def test_a_host_clock_hours_off_still_uploads(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """With the service's clock 62 min behind this host's, its urlExpiry (in its time) is in
    this host's past: the client judges it on the service's clock, and the one PUT succeeds."""
    qconnect_server.set_clock_offset(-3720)
    job = await client.start_import_job(kb, GOOD_CSV)
    assert qconnect_server.uploaded(job.upload_id) == GOOD_CSV
    # The first StartContentUpload was refused as signed an hour off; no second upload.
    assert requests(qconnect_server, "StartContentUpload") == 2
    assert requests(qconnect_server, "PutObject") == 1


async def test_urls_that_keep_expiring_end_in_access_denied(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """After MAX_UPLOADS expired URLs the error is AccessDeniedError with the KB and upload."""
    qconnect_server.expire_upload_urls(times=None)
    with pytest.raises(AccessDeniedError) as info:
        await client.start_import_job(kb, GOOD_CSV)
    assert info.value.knowledge_base_id == kb and info.value.upload_id
    assert info.value.operation == "PutObject" and info.value.http_status == 403
    assert requests(qconnect_server, "StartContentUpload") == MAX_UPLOADS
    assert requests(qconnect_server, "StartImportJob") == 0


async def test_every_retry_of_an_import_names_its_operation_and_kb(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """RetryPolicy.on_retry hears of each retry with the operation and the KB retried: the
    upload's start, its PUT, the import's start, a poll and a delete."""
    retries: list[tuple[str, str | None]] = []
    policy = RetryPolicy(on_retry=lambda d: retries.append((d.operation, d.knowledge_base_id)))
    qconnect_server.fail("StartContentUpload", status=500)
    qconnect_server.fail_uploads(status=503)
    qconnect_server.fail("StartImportJob", status=500)
    qconnect_server.fail("GetImportJob", status=500)
    qconnect_server.fail("DeleteImportJob", status=500)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1", retry=policy
    ) as client:
        job = await client.start_import_job(kb, GOOD_CSV)
        await client.wait_for_import_job(kb, job.import_job_id)
        await client.delete_import_job(kb, job.import_job_id)
    assert retries == [
        ("StartContentUpload", kb),
        ("PutObject", kb),
        ("StartImportJob", kb),
        ("GetImportJob", kb),
        ("DeleteImportJob", kb),
    ]


async def test_a_refused_start_of_the_upload_names_its_operation_and_kb(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """StartContentUpload refused: the typed error names that operation and the KB; no PUT."""
    qconnect_server.fail("StartContentUpload", code="AccessDeniedException", status=403)
    with pytest.raises(AccessDeniedError) as info:
        await client.start_import_job(kb, GOOD_CSV)
    assert (info.value.operation, info.value.knowledge_base_id) == ("StartContentUpload", kb)
    assert requests(qconnect_server, "PutObject") == 0


async def test_a_url_known_to_have_expired_is_not_sent(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, monkeypatch: Any
) -> None:
    """A presigned URL whose urlExpiry has passed by this host's clock (the PUT came more than
    the URL's hour after its upload started) is not sent: a fresh upload each time, then
    AccessDeniedError, and no PUT ever reached the server."""
    # Faked time: the uploader's clock reads two hours on, as after a very long wait.
    later = types.SimpleNamespace(time=lambda: time.time() + 7200)
    monkeypatch.setattr(qconnect_async._upload, "time", later)
    with pytest.raises(AccessDeniedError) as info:
        await client.start_import_job(kb, GOOD_CSV)
    assert info.value.message == "Request has expired"
    assert requests(qconnect_server, "StartContentUpload") == MAX_UPLOADS
    assert requests(qconnect_server, "PutObject") == 0


async def test_an_expired_url_is_logged_with_its_kb_and_upload(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, caplog: Any
) -> None:
    """A PUT refused as expired says so at DEBUG, with the KB and the upload given up."""
    caplog.set_level(logging.DEBUG, logger="qconnect_async")
    qconnect_server.expire_upload_urls(times=1)
    await client.start_import_job(kb, GOOD_CSV)
    said = [r.getMessage() for r in caplog.records if "expired before the PUT" in r.getMessage()]
    assert len(said) == 1
    assert re.fullmatch(
        rf"the upload URL expired before the PUT \(knowledge_base_id={kb}, upload_id=\S+\): "
        "starting a new upload",
        said[0],
    )
    assert "upload_id=None" not in said[0]


async def test_another_put_error_is_typed_and_not_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A 400 from S3 is a QConnectError with S3's code, the KB and the upload id; one attempt."""
    qconnect_server.fail_uploads(status=400, code="EntityTooLarge", message="Too large")
    with pytest.raises(QConnectError) as info:
        await client.start_import_job(kb, GOOD_CSV)
    error = info.value
    assert (error.code, error.http_status, error.knowledge_base_id) == ("EntityTooLarge", 400, kb)
    assert error.upload_id is not None and error.upload_id.startswith(kb)
    assert f"upload_id={error.upload_id}" in str(error)
    assert requests(qconnect_server, "PutObject") == 1


async def test_deleting_a_running_job_is_a_conflict(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """delete_import_job of a running job is ConflictError (409, not retried); a finished one
    is being deleted (DELETE_IN_PROGRESS, then DELETED)."""
    qconnect_server.set_job_completion(after_reads=1)
    job = await client.start_import_job(kb, GOOD_CSV)
    with pytest.raises(ConflictError) as info:
        await client.delete_import_job(kb, job.import_job_id)
    assert info.value.http_status == 409 and requests(qconnect_server, "DeleteImportJob") == 1
    assert (info.value.operation, info.value.knowledge_base_id) == ("DeleteImportJob", kb)
    await client.wait_for_import_job(kb, job.import_job_id)
    await client.delete_import_job(kb, job.import_job_id)
    deleting = await client.get_import_job(kb, job.import_job_id)
    assert deleting.status == ImportJobStatus.DELETE_IN_PROGRESS
    missing = str(uuid.uuid4())
    with pytest.raises(ResourceNotFoundError) as gone:
        await client.get_import_job(kb, missing)
    assert (gone.value.operation, gone.value.knowledge_base_id) == ("GetImportJob", kb)


async def test_the_job_quota_is_never_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """ServiceQuotaExceededException (402) is ServiceQuotaExceededError after one attempt."""
    qconnect_server.set_job_quota(0)
    with pytest.raises(ServiceQuotaExceededError) as info:
        await client.start_import_job(kb, GOOD_CSV)
    assert info.value.http_status == 402 and info.value.upload_id is not None
    assert requests(qconnect_server, "StartImportJob") == 1


async def test_a_start_resumes_from_an_error_s_upload_without_a_second_put(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A start refused after its PUT names the upload; upload_id= starts from it, no PUT."""
    qconnect_server.set_job_quota(0)
    with pytest.raises(ServiceQuotaExceededError) as info:
        await client.start_import_job(kb, GOOD_CSV)
    upload_id = info.value.upload_id
    assert upload_id is not None and qconnect_server.uploaded(upload_id) == GOOD_CSV
    qconnect_server.set_job_quota(None)
    job = await client.start_import_job(kb, upload_id=upload_id)
    assert job.upload_id == upload_id
    counts = {op: requests(qconnect_server, op) for op in ("StartContentUpload", "PutObject")}
    assert counts == {"StartContentUpload": 1, "PutObject": 1}
    done = await client.wait_for_import_job(kb, job.import_job_id)
    assert await download(done.url.get_secret_value() if done.url else "") == GOOD_CSV


async def test_every_error_after_the_put_carries_the_upload_id(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A throttled start, and a start from an unknown upload, both name their upload."""
    qconnect_server.throttle("StartImportJob", times=None)
    with pytest.raises(QConnectError) as throttled:
        await client.start_import_job(kb, GOOD_CSV, client_token="order-1")
    assert throttled.value.upload_id is not None
    qconnect_server.clear_faults()
    missing = f"{kb}/{uuid.uuid4()}"
    with pytest.raises(ResourceNotFoundError) as info:
        await client.start_import_job(kb, upload_id=missing)
    assert info.value.upload_id == missing and info.value.resource_name == missing


async def test_the_presigned_url_ttl_is_sent_in_minutes(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """presigned_url_ttl is StartContentUpload's presignedUrlTimeToLive; none by default."""
    sent: list[Any] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.loads(params["body"]).get("presignedUrlTimeToLive"))

    session = AioSession()
    config = AioConfig(retries={"total_max_attempts": 1})
    async with session.create_client(
        "qconnect", endpoint_url=qconnect_server.endpoint_url, config=config
    ) as raw:
        raw.meta.events.register("before-call.qconnect.StartContentUpload", record)
        client = QConnectClient.from_client(raw)
        await client.start_import_job(kb, GOOD_CSV, presigned_url_ttl=5)
        await client.start_import_job(kb, GOOD_CSV)
        await client.close()
    assert sent == [5, None]


async def test_request_timeout_is_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """RequestTimeoutException (408) is transient: GetImportJob is tried again and succeeds."""
    job = await client.start_import_job(kb, GOOD_CSV)
    qconnect_server.fail("GetImportJob", code="RequestTimeoutException", status=408)
    got = await client.get_import_job(kb, job.import_job_id)
    assert got.import_job_id == job.import_job_id
    assert requests(qconnect_server, "GetImportJob") == 2


async def test_the_waiter_times_out_as_deadline_exceeded(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A job that never finishes: DeadlineExceededError, a TransportError and a TimeoutError,
    naming the KB and the client's Region."""
    qconnect_server.set_job_completion(after_reads=None)
    job = await client.start_import_job(kb, GOOD_CSV)
    with pytest.raises(DeadlineExceededError) as info:
        await client.wait_for_import_job(kb, job.import_job_id, timeout=0.05)
    assert isinstance(info.value, TransportError) and isinstance(info.value, TimeoutError)
    assert (info.value.knowledge_base_id, info.value.region) == (kb, "us-east-1")
    assert info.value.operation == "GetImportJob"
    assert info.value.message == f"import job {job.import_job_id} did not finish within 0.05 s"


async def test_cancelling_the_waiter_stops_it_at_once_and_leaves_no_task(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Cancelled mid-wait, the waiter ends, no task is left, and the client still works."""
    qconnect_server.set_job_completion(after_reads=None)
    job = await client.start_import_job(kb, GOOD_CSV)
    with set_testing(False):
        waiter = asyncio.create_task(client.wait_for_import_job(kb, job.import_job_id))
        # The server's counter is the event waited for (it lives in another thread).
        while requests(qconnect_server, "GetImportJob") < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert (await client.get_import_job(kb, job.import_job_id)).import_job_id == job.import_job_id


async def test_an_unknown_status_keeps_waiting_and_is_logged_once(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, caplog: Any
) -> None:
    """A status the SDK does not know is no error: the waiter polls on, and says so once."""
    caplog.set_level(logging.INFO, logger="qconnect_async")
    # Logged once per process: a status no other test (or earlier run in this process) used.
    status = f"VALIDATING_{uuid.uuid4().hex[:8].upper()}"
    job_id = qconnect_server.add_raw_import_job(kb, {"status": status})
    waiter = asyncio.create_task(client.wait_for_import_job(kb, job_id))
    # The server's counter is the event waited for (it lives in another thread).
    while requests(qconnect_server, "GetImportJob") < 3 and not waiter.done():  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    assert not waiter.done()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    said = [r.getMessage() for r in caplog.records if status in r.getMessage()]
    assert said == [
        f"import job {job_id} of {kb} has status {status!r}, unknown to this version: still waiting"
    ]


@pytest.mark.parametrize(
    "status",
    [
        ImportJobStatus.FAILED,
        ImportJobStatus.DELETE_IN_PROGRESS,
        ImportJobStatus.DELETE_FAILED,
        ImportJobStatus.DELETED,
    ],
)
async def test_a_job_that_can_no_longer_complete_ends_the_wait_as_failed(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, status: ImportJobStatus
) -> None:
    """FAILED and every deletion status can never become COMPLETE: ImportJobFailedError at the
    first poll, with the job."""
    job_id = qconnect_server.add_raw_import_job(kb, {"status": status.value})
    with pytest.raises(ImportJobFailedError) as info:
        # The timeout only bounds a waiter that would poll on (it is no race: one poll ends it).
        await client.wait_for_import_job(kb, job_id, timeout=5)
    error = info.value
    assert error.job.status == status
    assert requests(qconnect_server, "GetImportJob") == 1
    what = "failed" if status == ImportJobStatus.FAILED else f"ended {status}"
    assert error.message == f"import job {job_id} {what}"
    assert (error.code, error.operation, error.knowledge_base_id, error.upload_id) == (
        "ImportJobFailed",
        "GetImportJob",
        kb,
        error.job.upload_id,
    )
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ImportJobFailedError
    assert (again.message, again.job) == (error.message, error.job)


async def test_the_put_and_every_poll_go_through_the_send_rate(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """Every request of an import asks the client's rate limiter: each call, PUT and poll."""
    limiter = AskedLimiter()
    qconnect_server.set_job_completion(after_reads=2)
    qconnect_server.fail_uploads(times=1)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1", rate_limiter=limiter
    ) as client:
        qconnect_server.reset_stats()
        job = await client.start_import_job(kb, GOOD_CSV)
        # StartContentUpload, the PUT refused with SlowDown, the PUT again, StartImportJob.
        assert requests(qconnect_server, "PutObject") == 2
        assert len(limiter.asked) == qconnect_server.stats.total_requests == 4
        await client.wait_for_import_job(kb, job.import_job_id)
    assert requests(qconnect_server, "GetImportJob") == 3
    assert len(limiter.asked) == len(limiter.ended) == 7


class PriorityLimiter(AskedLimiter):
    """An AskedLimiter that also records the priority each send was asked with."""

    def __init__(self) -> None:
        super().__init__()
        self.priorities: list[int] = []

    async def acquire(self, *, priority: int = 0) -> None:
        self.priorities.append(priority)
        await super().acquire()


@pytest.mark.parametrize(("priority", "sent"), [("bulk", 1), ("interactive", 0)])
async def test_every_request_of_a_start_goes_at_its_priority_and_names_the_region(
    kb: str, qconnect_server: QConnectServer, priority: Literal["bulk", "interactive"], sent: int
) -> None:
    """StartContentUpload, the PUT (each attempt) and StartImportJob ask the limiter at the
    start's priority, with a client_token or without; a PUT refused for good names the
    client's Region."""
    limiter = PriorityLimiter()
    qconnect_server.fail_uploads(times=1)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1", rate_limiter=limiter
    ) as client:
        await client.start_import_job(kb, GOOD_CSV, priority=priority)
        assert limiter.priorities == [sent] * 4  # the PUT twice: SlowDown, then sent
        await client.start_import_job(kb, GOOD_CSV, priority=priority, client_token=priority)
        assert limiter.priorities == [sent] * 7
        qconnect_server.fail_uploads(status=400, code="InvalidRequest", message="No")
        with pytest.raises(QConnectError) as info:
            await client.start_import_job(kb, GOOD_CSV, priority=priority)
    assert (info.value.operation, info.value.region) == ("PutObject", "us-east-1")


async def test_the_waiter_polls_at_once_then_ever_slower(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """Over HTTP, out of testing mode: the first poll at once, then 1 s, then 1.5 s later."""
    limiter = AskedLimiter()
    qconnect_server.set_job_completion(after_reads=2)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1", rate_limiter=limiter
    ) as client:
        job = await client.start_import_job(kb, GOOD_CSV)
        with set_testing(False):
            called = asyncio.get_running_loop().time()
            done = await client.wait_for_import_job(kb, job.import_job_id)
    assert done.status == ImportJobStatus.COMPLETE
    # The waits between polls: from one poll's answer to the next poll's send.
    waits = [
        sent - answered
        for answered, sent in zip(limiter.ended[-3:-1], limiter.asked[-2:], strict=True)
    ]
    assert limiter.asked[-3] - called < FIRST_POLL_DELAY / 2
    assert FIRST_POLL_DELAY <= waits[0] < poll_delay_off(2) <= waits[1] < poll_delay_off(3)


def poll_delay_off(polls: int) -> float:
    """poll_delay out of testing mode."""
    with set_testing(False):
        return poll_delay(polls)


def test_polls_start_soon_then_slow_down_to_a_cap() -> None:
    """The waits between polls grow from 1 s to a 15 s cap (zero in testing mode)."""
    with set_testing(False):
        delays = [poll_delay(n) for n in range(1, 12)]
    assert delays[0] == 1.0 and delays == sorted(delays) and delays[-1] == MAX_POLL_DELAY
    assert poll_delay(5) == 0.0  # the suite runs in testing mode


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        ("5", "timeout must be a number of seconds, not str"),
        (True, "timeout must be a number of seconds, not bool"),
        (0, "timeout must be a positive number of seconds, not 0"),
        (-1.5, "timeout must be a positive number of seconds, not -1.5"),
        (math.inf, "timeout must be a positive number of seconds, not inf"),
    ],
)
async def test_a_wait_timeout_is_a_positive_number_of_seconds(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, seconds: Any, message: str
) -> None:
    """wait_for_import_job's timeout: a number (not a bool or a string), finite and positive;
    anything else is a ValidationError that says what it got, before any request."""
    job_id = qconnect_server.add_raw_import_job(kb, {"status": "COMPLETE"})
    qconnect_server.reset_stats()
    with pytest.raises(ValidationError) as info:
        await client.wait_for_import_job(kb, job_id, timeout=seconds)
    assert info.value.message == message
    assert qconnect_server.stats.total_requests == 0
    # A small one is taken as it is: the job is already COMPLETE at the first poll.
    assert (await client.wait_for_import_job(kb, job_id, timeout=0.5)).import_job_id == job_id


@pytest.mark.parametrize(
    ("job_id", "shown"),
    [("Job/1", "'Job/1'"), ("x" * 300, repr("x" * 200)), (42, "'int'")],
)
async def test_a_bad_import_job_id_is_shown_in_the_error(
    client: QConnectClient, kb: str, job_id: Any, shown: str
) -> None:
    """A bad job ID is quoted in the ValidationError (its first 200 characters), or its type."""
    with pytest.raises(ValidationError) as info:
        await client.get_import_job(kb, job_id)
    assert info.value.message == f"not an import job ID (lower-case UUID): {shown}"


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda c, kb, tmp: c.start_import_job(kb, b""), "empty"),
        (lambda c, kb, tmp: c.start_import_job(kb, tmp / "missing.csv"), "no such file"),
        (lambda c, kb, tmp: c.start_import_job(kb, tmp), "not a regular file"),
        (lambda c, kb, tmp: c.start_import_job(kb, tmp / "empty.csv"), "empty"),
        (lambda c, kb, tmp: c.start_import_job(kb, 42), "bytes or a path"),
        (lambda c, kb, tmp: c.start_import_job("KB", b"x"), "knowledge base"),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", content_type="image/png"), "content_type"),
        (
            lambda c, kb, tmp: c.start_import_job(
                kb, b"x", metadata={str(i): "v" for i in range(11)}
            ),
            "at most 10",
        ),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", metadata={"k": ""}), "metadata value"),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", client_token=""), "client_token"),
        (lambda c, kb, tmp: c.start_import_job(kb), "either content or upload_id"),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", upload_id="u"), "either content"),
        (lambda c, kb, tmp: c.start_import_job(kb, upload_id=""), "upload_id"),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", presigned_url_ttl=0), "1 to 60"),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", presigned_url_ttl=61), "1 to 60"),
        (lambda c, kb, tmp: c.start_import_job(kb, b"x", presigned_url_ttl=1.5), "1 to 60"),
        (
            lambda c, kb, tmp: c.start_import_job(
                kb, b"x", external_source_configuration={"source": "AMAZON_CONNECT"}
            ),
            "external_source_configuration",
        ),
        (lambda c, kb, tmp: c.get_import_job(kb, "job"), "import job ID"),
        (lambda c, kb, tmp: c.delete_import_job(kb, "Job/1"), "import job ID"),
        (lambda c, kb, tmp: c.wait_for_import_job(kb, "x"), "import job ID"),
        (
            lambda c, kb, tmp: c.wait_for_import_job(kb, kb, timeout=0),
            "positive",
        ),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    tmp_path: Path,
    call: Any,
    what: str,
) -> None:
    """Empty content, a missing file, bad IDs, types or metadata: ValidationError, no request."""
    (tmp_path / "empty.csv").write_bytes(b"")
    qconnect_server.reset_stats()
    with pytest.raises(ValidationError, match=what):
        await call(client, kb, tmp_path)
    assert qconnect_server.stats.total_requests == 0


async def test_a_dropped_connection_on_the_put_is_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A PUT whose connection closes with no answer is tried again; the import then starts."""
    qconnect_server.disconnect_uploads(times=2)
    job = await client.start_import_job(kb, GOOD_CSV)
    assert qconnect_server.uploaded(job.upload_id) == GOOD_CSV
    assert requests(qconnect_server, "PutObject") >= 3


async def test_a_put_that_never_gets_through_is_a_transport_error(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """Connection errors past the retries allowed: TransportError with the KB and upload id."""
    qconnect_server.disconnect_uploads(times=None)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url,
        region_name="us-east-1",
        retry=RetryPolicy(max_attempts=2),
    ) as client:
        with pytest.raises(TransportError) as info:
            await client.start_import_job(kb, GOOD_CSV)
    error = info.value
    assert error.knowledge_base_id == kb and error.upload_id and error.operation == "PutObject"
    assert SECRET not in str(error) and SECRET not in repr(error.__cause__)
    assert requests(qconnect_server, "StartImportJob") == 0


async def test_a_deadline_sooner_than_the_timeout_ends_the_wait_and_says_so(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """deadline=0.8 with the default 600 s timeout: the wait ends at the deadline, and its
    message gives the seconds it had (the deadline's), not the timeout's."""
    qconnect_server.set_job_completion(after_reads=None)
    job = await client.start_import_job(kb, GOOD_CSV)
    # Out of testing mode the first poll is followed by a 1 s wait, which the deadline cuts:
    # the wait's own limit ends it, not a request's.
    with set_testing(False), pytest.raises(DeadlineExceededError) as info:
        await client.wait_for_import_job(kb, job.import_job_id, deadline=0.8)
    said = re.fullmatch(
        rf"import job {job.import_job_id} did not finish within (\S+) s", info.value.message
    )
    assert said is not None and 0.7 < float(said.group(1)) <= 0.8


async def test_an_external_source_configuration_is_sent_with_the_start(
    client: QConnectClient, kb: str
) -> None:
    """The start carries external_source_configuration: the job the service made has it."""
    source = {
        "source": "AMAZON_CONNECT",
        "configuration": {"connectConfiguration": {"instanceId": "instance-1"}},
    }
    job = await client.start_import_job(kb, GOOD_CSV, external_source_configuration=source)
    assert job.external_source_configuration is not None
    wire = job.external_source_configuration.model_dump(by_alias=True, mode="json")
    assert wire == source

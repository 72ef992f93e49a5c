"""Idempotent starts over real HTTP: the same client_token and content make one job, whether
the first start finished, lost its answer, or its process was killed midway."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qconnect_async import (
    ConflictError,
    ImportJob,
    PaginationLoopError,
    QConnectClient,
    QConnectError,
    QConnectRouter,
    TransportError,
    ValidationError,
)
from qconnect_async._idempotency import START_KEY
from qconnect_async.testing import QConnectServer

CSV = b"Name,Content\nHello,Hi there\nBye,See you\n"
OTHER_CSV = b"Name,Content\nThanks,You are welcome\n"

#: A worker in a process of its own: one start with a token, from a file; the test kills it.
WORKER = """
import asyncio, sys
from qconnect_async import QConnectClient

async def main() -> None:
    async with QConnectClient() as client:
        await client.start_import_job(sys.argv[1], sys.argv[2], client_token=sys.argv[3])

asyncio.run(main())
"""


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    return qconnect_server.create_knowledge_base("kb")


async def jobs_of(client: QConnectClient, kb: str) -> list[ImportJob]:
    async with client.list_import_jobs(kb) as listing:
        return [job async for job in listing]


def counts(server: QConnectServer) -> dict[str, int]:
    return dict(server.stats.requests)


async def test_a_first_start_with_a_token_costs_no_extra_request(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Without a conflict a start with a token is the usual three requests, and no listing."""
    job = await client.start_import_job(kb, CSV, client_token="order-42", metadata={"a": "b"})
    assert counts(qconnect_server) == {"StartContentUpload": 1, "PutObject": 1, "StartImportJob": 1}
    assert job.metadata is not None and job.metadata["a"] == "b"
    assert job.metadata[START_KEY].startswith("v1 ") and "order-42" not in job.metadata[START_KEY]


async def test_the_same_token_and_content_twice_return_the_same_job(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, tmp_path: Path
) -> None:
    """A repeated start (bytes, then the same bytes from a file) returns the first job."""
    first = await client.start_import_job(kb, CSV, client_token="order-42")
    before = counts(qconnect_server)
    path = tmp_path / "same.csv"
    path.write_bytes(CSV)
    again = await client.start_import_job(kb, path, client_token="order-42")
    assert again.import_job_id == first.import_job_id
    assert [j.import_job_id for j in await jobs_of(client, kb)] == [first.import_job_id]
    extra = {op: n - before.get(op, 0) for op, n in counts(qconnect_server).items()}
    # the repeat: a new upload, the 409, then one page of the KB's jobs (the listing above: 1)
    assert extra == {
        "StartContentUpload": 1,
        "PutObject": 1,
        "StartImportJob": 1,
        "ListImportJobs": 2,
    }


async def test_the_same_token_for_other_content_is_a_conflict_that_says_so(
    client: QConnectClient, kb: str
) -> None:
    """Other content under a used token is a ConflictError naming the job it started."""
    first = await client.start_import_job(kb, CSV, client_token="order-42")
    with pytest.raises(ConflictError) as info:
        await client.start_import_job(kb, OTHER_CSV, client_token="order-42")
    error = info.value
    assert error.message == (
        f"the client_token was used before for other content: import job "
        f"{first.import_job_id} of this knowledge base; give new content a new token"
    )
    assert error.upload_id is not None and error.upload_id != first.upload_id
    # The service's 409 it explains: its status, request and operation, with the KB.
    assert (error.http_status, error.operation, error.knowledge_base_id) == (
        409,
        "StartImportJob",
        kb,
    )
    assert error.request_id is not None
    assert len(await jobs_of(client, kb)) == 1


async def test_the_same_token_with_other_parameters_is_a_conflict_that_says_so(
    client: QConnectClient, kb: str
) -> None:
    """The same content with other metadata under a used token is a ConflictError too."""
    first = await client.start_import_job(kb, CSV, client_token="order-42", metadata={"team": "a"})
    with pytest.raises(ConflictError) as info:
        await client.start_import_job(kb, CSV, client_token="order-42", metadata={"team": "b"})
    assert info.value.message.startswith(
        f"the client_token was used before for other parameters: import job {first.import_job_id} "
    )


async def test_a_conflict_through_a_router_names_the_kb_s_account_and_region(
    qconnect_server: QConnectServer,
) -> None:
    """Other content under a used token, started by a router in another account and Region:
    the ConflictError names that account and Region, as the service's 409 did."""
    account, region = "222222222222", "eu-west-2"
    kb = qconnect_server.create_knowledge_base(account=account, region=region)
    arn = f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb}"
    async with QConnectRouter(
        region_name="us-east-1",
        endpoint_url=qconnect_server.endpoint_url,
        sts_endpoint_url=qconnect_server.endpoint_url,
        role_name="importer",
    ) as router:
        await router.start_import_job(arn, CSV, client_token="order-42")
        with pytest.raises(ConflictError, match="other content") as info:
            await router.start_import_job(arn, OTHER_CSV, client_token="order-42")
    assert (info.value.account_id, info.value.region) == (account, region)


async def test_a_conflict_no_job_of_ours_explains_is_raised_as_the_service_sent_it(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A 409 for a token no listed job carries stays the service's ConflictError."""
    qconnect_server.fail("StartImportJob", code="ConflictException", status=409, message="used")
    with pytest.raises(ConflictError) as info:
        await client.start_import_job(kb, CSV, client_token="order-42")
    assert info.value.message == "used" and info.value.upload_id is not None
    assert counts(qconnect_server)["ListImportJobs"] == 1


async def test_an_answer_lost_after_the_job_was_created_makes_one_job(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """StartImportJob's answer lost once: the retry (same token, same upload) gets the job."""
    qconnect_server.lose_answers("StartImportJob")
    job = await client.start_import_job(kb, CSV, client_token="order-42")
    assert counts(qconnect_server)["StartImportJob"] == 2
    assert [j.import_job_id for j in await jobs_of(client, kb)] == [job.import_job_id]


async def test_answers_lost_on_every_attempt_then_a_new_start_finds_the_job(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Every answer lost: the call fails with its upload_id; the next start with the token,
    from that upload or from the content again, returns the one job made."""
    qconnect_server.lose_answers("StartImportJob", times=None)
    with pytest.raises(TransportError) as info:
        await client.start_import_job(kb, CSV, client_token="order-42")
    qconnect_server.clear_faults()
    made = await jobs_of(client, kb)
    assert len(made) == 1 and info.value.upload_id == made[0].upload_id
    resumed = await client.start_import_job(
        kb, upload_id=info.value.upload_id, client_token="order-42"
    )
    again = await client.start_import_job(kb, CSV, client_token="order-42")
    assert resumed.import_job_id == again.import_job_id == made[0].import_job_id
    assert len(await jobs_of(client, kb)) == 1


async def _await_request(server: QConnectServer, operation: str) -> None:
    """Until `operation` reached the server (a bounded wait: the worker starts in seconds)."""
    for _ in range(600):
        if server.stats.requests.get(operation, 0):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{operation} never reached the server")


@pytest.fixture
def worker(
    qconnect_server: QConnectServer, kb: str, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process starting an import of CSV into kb with the token "order-42"."""
    path = tmp_path / "import.csv"
    path.write_bytes(CSV)
    env = {**os.environ, "AWS_ENDPOINT_URL_QCONNECT": qconnect_server.endpoint_url}
    env["AWS_DEFAULT_REGION"] = qconnect_server.region
    command = [sys.executable, "-c", WORKER, kb, str(path), "order-42"]
    with subprocess.Popen(command, env=env) as process:
        try:
            yield process
        finally:
            process.kill()
            process.wait(timeout=10)


async def test_a_worker_killed_between_upload_and_start_leaves_one_job_after_a_rerun(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    worker: subprocess.Popen[bytes],
) -> None:
    """Killed after its PUT, before StartImportJob did anything: the rerun makes the job."""
    # StartImportJob is held, then refused: the service never acts on the worker's start.
    qconnect_server.set_latency(60.0, "StartImportJob")
    qconnect_server.fail("StartImportJob", times=1)
    await _await_request(qconnect_server, "StartImportJob")
    worker.kill()
    worker.wait(timeout=10)
    qconnect_server.clear_faults()
    assert counts(qconnect_server)["PutObject"] == 1 and await jobs_of(client, kb) == []
    qconnect_server.reset_stats()
    job = await client.start_import_job(kb, CSV, client_token="order-42")
    # the rerun costs what a first start costs: the service never saw the token
    assert counts(qconnect_server) == {"StartContentUpload": 1, "PutObject": 1, "StartImportJob": 1}
    assert [j.import_job_id for j in await jobs_of(client, kb)] == [job.import_job_id]


async def test_a_worker_killed_while_its_start_was_in_flight_leaves_one_job_after_a_rerun(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    worker: subprocess.Popen[bytes],
) -> None:
    """Killed after sending StartImportJob, which the service then carried out: the rerun
    returns that job instead of a second one or a ConflictError."""
    qconnect_server.set_latency(60.0, "StartImportJob")
    await _await_request(qconnect_server, "StartImportJob")
    worker.kill()
    worker.wait(timeout=10)
    qconnect_server.clear_faults()  # the held start goes on: its job is made, unanswered
    for _ in range(600):
        made = await jobs_of(client, kb)
        if made:
            break
        await asyncio.sleep(0.05)
    assert len(made) == 1
    job = await client.start_import_job(kb, CSV, client_token="order-42")
    assert job.import_job_id == made[0].import_job_id
    assert len(await jobs_of(client, kb)) == 1


async def test_the_reserved_key_and_an_eleventh_entry_are_refused_before_any_request(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """With a token, metadata may not use the reserved key nor fill all ten entries."""
    with pytest.raises(ValidationError, match="reserved"):
        await client.start_import_job(kb, CSV, client_token="t", metadata={START_KEY: "x"})
    full = {f"k{i}": "v" for i in range(10)}
    with pytest.raises(ValidationError, match="at most 9"):
        await client.start_import_job(kb, CSV, client_token="t", metadata=full)
    await client.start_import_job(kb, CSV, metadata=full)  # no token: all ten are the user's
    assert counts(qconnect_server)["StartImportJob"] == 1


SOURCE = {
    "source": "AMAZON_CONNECT",
    "configuration": {"connectConfiguration": {"instanceId": "i"}},
}


async def test_a_repeated_start_finds_its_job_among_jobs_of_other_tokens_and_none(
    client: QConnectClient, kb: str
) -> None:
    """Jobs started without a token and with another token are passed over: the repeat of a
    start with metadata and an external source returns its own job."""
    await client.start_import_job(kb, OTHER_CSV)
    await client.start_import_job(kb, OTHER_CSV, client_token="order-41")
    options = {"metadata": {"team": "a"}, "external_source_configuration": SOURCE}
    first = await client.start_import_job(kb, CSV, client_token="order-42", **options)
    again = await client.start_import_job(kb, CSV, client_token="order-42", **options)
    assert again.import_job_id == first.import_job_id
    assert len(await jobs_of(client, kb)) == 3


async def test_a_repeated_start_lists_the_kb_a_hundred_jobs_a_page(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Behind 150 jobs (the service's default page: 5), the repeat finds its job in two
    pages of 100, following the token."""
    qconnect_server.set_default_page_size(5)
    qconnect_server.add_import_jobs(kb, 150, metadata={})
    first = await client.start_import_job(kb, CSV, client_token="order-42")
    qconnect_server.reset_stats()
    again = await client.start_import_job(kb, CSV, client_token="order-42")
    assert again.import_job_id == first.import_job_id
    assert counts(qconnect_server)["ListImportJobs"] == 2


async def test_a_failed_listing_after_the_conflict_names_the_new_upload(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """When listing the KB after the 409 fails, the error carries the repeat's upload ID."""
    first = await client.start_import_job(kb, CSV, client_token="order-42")
    qconnect_server.fail("ListImportJobs", code="AccessDeniedException", status=403)
    with pytest.raises(QConnectError) as info:
        await client.start_import_job(kb, CSV, client_token="order-42")
    assert info.value.operation == "ListImportJobs"
    assert info.value.upload_id is not None and info.value.upload_id != first.upload_id


async def test_a_mark_of_another_format_version_is_passed_over(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A job whose start mark has a format this version does not know ("v2 ...", or one
    field) is not read as a start of ours, even with the same token digest."""
    elsewhere = qconnect_server.create_knowledge_base("elsewhere")
    probe = await client.start_import_job(elsewhere, CSV, client_token="order-42")
    assert probe.metadata is not None
    ours = probe.metadata[START_KEY]  # the same token's mark: its digest does not depend on the KB
    for foreign in ("v2" + ours.removeprefix("v1"), "v1"):
        qconnect_server.add_raw_import_job(kb, {"metadata": {START_KEY: foreign}})
    first = await client.start_import_job(kb, CSV, client_token="order-42")
    again = await client.start_import_job(kb, CSV, client_token="order-42")
    assert again.import_job_id == first.import_job_id


async def test_a_looping_listing_after_the_conflict_is_a_pagination_loop_error(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Behind 250 jobs, a token the service sends back while looking for the earlier start:
    PaginationLoopError naming ListImportJobs and the KB."""
    qconnect_server.add_import_jobs(kb, 250, metadata={})
    await client.start_import_job(kb, OTHER_CSV, client_token="order-42")
    qconnect_server.repeat_token(knowledge_base_id=kb)
    with pytest.raises(PaginationLoopError) as info:
        await client.start_import_job(kb, CSV, client_token="order-42")
    assert (info.value.operation, info.value.knowledge_base_id) == ("ListImportJobs", kb)
    assert info.value.next_token is not None  # the last token that brought new jobs


async def test_the_same_token_for_another_upload_is_a_conflict(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Starts from upload_id= are told apart by their uploads: a used token with another
    upload is a ConflictError about other content."""
    qconnect_server.set_job_quota(0)
    uploads = []
    for content in (CSV, OTHER_CSV):
        with pytest.raises(QConnectError) as info:
            await client.start_import_job(kb, content)
        uploads.append(info.value.upload_id)
    qconnect_server.set_job_quota(None)
    await client.start_import_job(kb, upload_id=uploads[0], client_token="order-42")
    with pytest.raises(ConflictError, match="for other content"):
        await client.start_import_job(kb, upload_id=uploads[1], client_token="order-42")

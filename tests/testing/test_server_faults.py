"""Every fault QConnectServer injects is seen by a real client as the service would send it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _server_helpers import NO_RETRY, aio_client, error_of, make_client
from botocore.exceptions import ClientError, ConnectionClosedError, PaginationError

from qconnect_async.testing import QConnectServer


@pytest.fixture
def client(qconnect_server: QConnectServer) -> Iterator[Any]:
    client = make_client(qconnect_server, NO_RETRY)
    yield client
    client.close()


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(kb, 5)
    return kb


def raw_bodies(client: Any) -> list[bytes]:
    """The bodies of ListImportJobs responses, as received, before botocore parses them."""
    bodies: list[bytes] = []
    client.meta.events.register(
        "before-parse.qconnect.ListImportJobs",
        lambda response_dict, **_: bodies.append(response_dict["body"]),
    )
    return bodies


def is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def test_throttle_the_next_requests_with_retry_after(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """throttle(times=2) answers two ThrottlingExceptions (HTTP 400, as the model says) with
    Retry-After, then serves; status=429 answers a 429 instead."""
    qconnect_server.throttle("ListImportJobs", times=2, retry_after=0.25)
    for _ in range(2):
        status, code, headers = error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))
        assert (status, code, headers["retry-after"]) == (400, "ThrottlingException", "0.25")
        assert headers["x-amzn-errortype"] == "ThrottlingException"
        assert headers["x-amzn-requestid"]
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 5
    stats = qconnect_server.stats
    assert (stats.requests["ListImportJobs"], stats.throttled, stats.faults) == (3, 2, 2)
    assert stats.statuses == {400: 2, 200: 1}
    qconnect_server.throttle("ListImportJobs", status=429)
    assert error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))[:2] == (
        429,
        "ThrottlingException",
    )
    assert qconnect_server.stats.throttled == 3


def test_faults_target_only_their_operation(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A fault for ListImportJobs leaves GetKnowledgeBase alone, and still waits for its turn."""
    qconnect_server.throttle("ListImportJobs")
    assert client.get_knowledge_base(knowledgeBaseId=kb)["knowledgeBase"]["knowledgeBaseId"] == kb
    assert error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))[1] == "ThrottlingException"
    qconnect_server.throttle(None, status=400)  # any operation, the model's own status
    status, code, _ = error_of(lambda: client.get_knowledge_base(knowledgeBaseId=kb))
    assert (status, code) == (400, "ThrottlingException")


def test_access_denied_for_one_kb_while_others_list(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A permanent per-KB failure hits that KB (by ID or ARN) and no other."""
    other = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(other, 2)
    qconnect_server.fail(code="AccessDeniedException", status=403, times=None, knowledge_base_id=kb)
    for ref in (kb, qconnect_server.knowledge_base_arn(kb), kb):
        status, code, _ = error_of(lambda ref=ref: client.list_import_jobs(knowledgeBaseId=ref))
        assert (status, code) == (403, "AccessDeniedException")
    assert len(client.list_import_jobs(knowledgeBaseId=other)["importJobSummaries"]) == 2
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.list_import_jobs(knowledgeBaseId=kb)


def test_clear_faults_answers_the_requests_a_latency_holds(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A request held by a long latency is answered as soon as the faults are cleared."""
    qconnect_server.set_latency(60, "ListImportJobs")
    answered = threading.Event()

    def call() -> None:
        client.list_import_jobs(knowledgeBaseId=kb)
        answered.set()

    caller = threading.Thread(target=call)
    caller.start()
    for _ in range(2000):  # until the server holds it (10 s at most)
        if qconnect_server.stats.in_flight >= 1:
            break
        time.sleep(0.005)
    assert not answered.is_set()
    qconnect_server.clear_faults()
    # 10 s only bounds a failure: the answer comes at once, far before the latency's 60.
    caller.join(10)
    assert answered.is_set()


@pytest.mark.parametrize(
    ("code", "status"),
    [("InternalServerException", 500), ("ServiceUnavailableException", 503)],
)
def test_server_errors_then_recovery(
    qconnect_server: QConnectServer, client: Any, kb: str, code: str, status: int
) -> None:
    """fail(times=2) answers two 5xx with the given code, then the operation works again."""
    qconnect_server.fail(code=code, status=status, times=2, message="try later")
    for _ in range(2):
        error = error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))
        assert error[:2] == (status, code)
    assert client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]
    assert qconnect_server.stats.faults == 2


def test_rate_limit_throttles_beyond_the_burst(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A token bucket of burst 3 (and a slow refill) serves 3 requests, throttles the rest;
    the stats say when each throttle was answered, in seconds since the last reset."""
    qconnect_server.set_rate_limit(0.1, burst=3)
    qconnect_server.reset_stats()
    started = time.monotonic()
    outcomes, answered = [], []
    for _ in range(5):
        try:
            client.list_import_jobs(knowledgeBaseId=kb)
            outcomes.append(200)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException"
            outcomes.append(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            answered.append(time.monotonic() - started)
    assert outcomes == [200, 200, 200, 400, 400]
    assert qconnect_server.stats.throttled == 2
    at = qconnect_server.stats.throttled_at
    assert len(at) == 2 and 0 <= at[0] <= answered[0] and answered[0] <= at[1] <= answered[1]
    qconnect_server.reset_stats()
    assert qconnect_server.stats.throttled_at == ()
    qconnect_server.set_rate_limit(None)
    assert client.list_import_jobs(knowledgeBaseId=kb)


def test_latency_delays_one_operation(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """set_latency adds at least that much time to the operation's responses."""
    qconnect_server.set_latency(0.3, "ListImportJobs")
    started = time.monotonic()
    client.list_import_jobs(knowledgeBaseId=kb)
    assert time.monotonic() - started >= 0.3
    qconnect_server.set_latency(0, "ListImportJobs")
    assert qconnect_server.stats.faults == 0  # latency alone is not a fault


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("invalid_json", lambda body: not is_json(body)),
        ("missing_summaries", lambda body: "importJobSummaries" not in json.loads(body)),
        ("empty_body", lambda body: body == b""),
    ],
)
def test_malformed_bodies(
    qconnect_server: QConnectServer,
    client: Any,
    kb: str,
    kind: Any,
    check: Callable[[bytes], Any],
) -> None:
    """A malformed 200 arrives as such; botocore alone would see "no jobs" in it."""
    bodies = raw_bodies(client)
    qconnect_server.malformed(kind=kind)
    parsed = client.list_import_jobs(knowledgeBaseId=kb)
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "importJobSummaries" not in parsed
    assert check(bodies[0])
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 5


def test_repeated_token_is_a_pagination_loop(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """repeat_token answers a request's own nextToken again; boto3's paginator gives up."""
    qconnect_server.repeat_token()
    first = client.list_import_jobs(knowledgeBaseId=kb, maxResults=2)  # no token: not faulted
    second = client.list_import_jobs(knowledgeBaseId=kb, maxResults=2, nextToken=first["nextToken"])
    assert second["nextToken"] == first["nextToken"]
    assert second["importJobSummaries"] != first["importJobSummaries"]
    qconnect_server.repeat_token(times=None)
    with pytest.raises(PaginationError, match="same next token"):
        for _ in client.get_paginator("list_import_jobs").paginate(
            knowledgeBaseId=kb, PaginationConfig={"PageSize": 2}
        ):
            pass


def test_empty_page_with_a_token_must_be_followed(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """empty_page answers no jobs and a fresh token; following it loses nothing."""
    qconnect_server.empty_page(times=2)
    pages = list(
        client.get_paginator("list_import_jobs").paginate(
            knowledgeBaseId=kb, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["importJobSummaries"]) for p in pages] == [0, 0, 2, 2, 1]
    assert len({p.get("nextToken") for p in pages}) == 5


def test_random_faults_are_seeded(qconnect_server: QConnectServer, client: Any, kb: str) -> None:
    """The same seed fails the same requests with the same errors."""

    def run() -> list[str]:
        qconnect_server.random_faults(0.5, seed=42)
        outcomes = []
        for _ in range(30):
            try:
                client.list_import_jobs(knowledgeBaseId=kb)
                outcomes.append("ok")
            except ClientError as exc:
                meta = exc.response["ResponseMetadata"]
                outcomes.append(f"{exc.response['Error']['Code']}:{meta['HTTPStatusCode']}")
        return outcomes

    first, second = run(), run()
    assert first == second
    assert set(first) == {
        "ok",
        "ThrottlingException:400",
        "InternalServerException:500",
        "ServiceUnavailableException:503",
    }
    qconnect_server.random_faults(1.0, errors=[("SlowDown", 503)], operations=["GetKnowledgeBase"])
    assert error_of(lambda: client.get_knowledge_base(knowledgeBaseId=kb))[:2] == (503, "SlowDown")
    assert client.list_import_jobs(knowledgeBaseId=kb)
    qconnect_server.random_faults(0)
    assert client.get_knowledge_base(knowledgeBaseId=kb)


async def test_max_in_flight_counts_concurrent_requests(qconnect_server: QConnectServer) -> None:
    """Five requests held by latency at once show as max_in_flight == 5, then 0 in flight."""
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.set_latency(0.3)
    async with aio_client(qconnect_server) as aio:
        await asyncio.gather(*(aio.list_import_jobs(knowledgeBaseId=kb) for _ in range(5)))
    stats = qconnect_server.stats
    assert (stats.max_in_flight, stats.in_flight, stats.total_requests) == (5, 0, 5)
    qconnect_server.reset_stats()
    assert qconnect_server.stats.max_in_flight == 0


async def test_aiobotocore_sees_throttles_and_denials(qconnect_server: QConnectServer) -> None:
    """aiobotocore parses the injected errors' codes, statuses and headers too."""
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.throttle(retry_after=1)
    qconnect_server.fail(code="AccessDeniedException", status=403)
    async with aio_client(qconnect_server) as aio:
        seen = []
        for _ in range(2):
            with pytest.raises(ClientError) as caught:
                await aio.list_import_jobs(knowledgeBaseId=kb)
            meta = caught.value.response["ResponseMetadata"]
            seen.append(
                (
                    caught.value.response["Error"]["Code"],
                    meta["HTTPStatusCode"],
                    meta["HTTPHeaders"].get("retry-after"),
                )
            )
    assert seen == [("ThrottlingException", 400, "1"), ("AccessDeniedException", 403, None)]


def test_clear_faults_and_reset(qconnect_server: QConnectServer, client: Any, kb: str) -> None:
    """clear_faults drops faults only; reset also forgets data, settings and counts."""
    qconnect_server.throttle(times=None)
    qconnect_server.set_rate_limit(0.1, burst=1)
    qconnect_server.set_default_page_size(1)
    qconnect_server.clear_faults()
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 1
    qconnect_server.throttle(times=None)
    qconnect_server.reset()
    assert qconnect_server.stats.total_requests == 0
    assert qconnect_server.knowledge_base_ids() == []
    error = error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))
    assert error[:2] == (404, "ResourceNotFoundException")
    other = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(other, 101)
    assert len(client.list_import_jobs(knowledgeBaseId=other)["importJobSummaries"]) == 100


def test_fault_arguments_are_checked(qconnect_server: QConnectServer) -> None:
    """Typos fail loudly at the call, not silently at request time."""
    with pytest.raises(ValueError, match="operation"):
        qconnect_server.throttle("ListImportJob")
    with pytest.raises(ValueError, match="times"):
        qconnect_server.fail(times=0)
    with pytest.raises(ValueError, match="kind"):
        qconnect_server.malformed(kind="broken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="probability"):
        qconnect_server.random_faults(1.5)
    with pytest.raises(ValueError, match="html"):
        qconnect_server.fail(html="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="knowledge base"):
        qconnect_server.fail(knowledge_base_id="kb-1")
    with pytest.raises(LookupError):
        qconnect_server.add_import_jobs("00000000-0000-0000-0000-000000000000", 1)


def test_page_faults_on_knowledge_base_listings(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """empty_page and repeat_token work on ListKnowledgeBases; they need a listing."""
    qconnect_server.seed(3, 0)
    qconnect_server.empty_page("ListKnowledgeBases")
    pages = list(
        client.get_paginator("list_knowledge_bases").paginate(PaginationConfig={"PageSize": 2})
    )
    assert [len(p["knowledgeBaseSummaries"]) for p in pages] == [0, 2, 1]
    qconnect_server.repeat_token("ListKnowledgeBases")
    first = client.list_knowledge_bases(maxResults=1)
    again = client.list_knowledge_bases(maxResults=1, nextToken=first["nextToken"])
    assert again["nextToken"] == first["nextToken"]
    with pytest.raises(ValueError, match="operation"):
        qconnect_server.repeat_token(None)


def test_a_cut_body_has_no_length_and_closes_the_connection(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """cut_body: a 200 sent without Content-Length, cut mid-document, connection closed."""
    bodies = raw_bodies(client)
    qconnect_server.malformed(kind="cut_body")
    parsed = client.list_import_jobs(knowledgeBaseId=kb)
    headers = parsed["ResponseMetadata"]["HTTPHeaders"]
    assert "content-length" not in headers
    assert headers.get("connection") == "close"
    assert not is_json(bodies[0]) and bodies[0].startswith(b'{"importJobSummaries": [')
    # The next request, on a new connection, is answered normally.
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 5


def test_empty_last_token_ends_with_an_empty_string(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """empty_last_token: the last page says "nextToken": "", the others keep their tokens."""
    bodies = raw_bodies(client)
    qconnect_server.empty_last_token()
    first = client.list_import_jobs(knowledgeBaseId=kb, maxResults=3)
    client.list_import_jobs(knowledgeBaseId=kb, maxResults=3, nextToken=first["nextToken"])
    assert json.loads(bodies[0])["nextToken"]
    assert json.loads(bodies[1])["nextToken"] == ""


def test_hide_running_jobs_leaves_jobs_in_progress_out_of_listings(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """hide_running_jobs: pages without their jobs in progress, tokens kept, GetImportJob
    still finds them; only the KB named, only `times` pages; jobs that ended are listed."""
    kb, other = qconnect_server.create_knowledge_base(), qconnect_server.create_knowledge_base()
    ids = qconnect_server.add_import_jobs(kb, 10)  # statuses cycle: jobs 4 and 6 in progress
    qconnect_server.add_import_jobs(other, 10)
    qconnect_server.hide_running_jobs(times=2, knowledge_base_id=kb)

    def listed(kb_id: str) -> list[list[str]]:
        pages = client.get_paginator("list_import_jobs").paginate(
            knowledgeBaseId=kb_id, PaginationConfig={"PageSize": 5}
        )
        return [[job["importJobId"] for job in page["importJobSummaries"]] for page in pages]

    assert [len(page) for page in listed(other)] == [5, 5]
    assert listed(kb) == [ids[:4], [ids[5], *ids[7:]]]
    hidden = client.get_import_job(knowledgeBaseId=kb, importJobId=ids[4])["importJob"]
    assert hidden["status"] == "START_IN_PROGRESS"
    assert listed(kb) == [ids[:5], ids[5:]]  # both pages spent the fault
    with pytest.raises(ValueError, match="times"):
        qconnect_server.hide_running_jobs(times=0)


def test_the_server_clock_can_be_set_off_and_dates_its_answers(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """set_clock_offset: requests signed by the host's clock are refused as AWS does."""
    qconnect_server.set_clock_offset(-20 * 60)
    status, code, headers = error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))
    assert (status, code) == (403, "InvalidSignatureException")
    assert "date" in headers
    qconnect_server.set_clock_offset(0)
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 5


def test_an_html_error_is_a_proxy_page_with_no_error_code(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """fail(html=True): an HTML page with the status, and no AWS error code to be found."""
    qconnect_server.fail(status=400, message="Bad Request", html=True)
    with pytest.raises(ClientError) as caught:
        client.list_import_jobs(knowledgeBaseId=kb)
    response = caught.value.response
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert headers["content-type"] == "text/html"
    assert "x-amzn-errortype" not in headers
    assert response["Error"]["Code"] == "400"  # botocore has only the status to go by
    assert "<html>" in response["Error"]["Message"]
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 5


def test_a_lost_answer_does_the_work_then_closes_the_connection(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """lose_answers: the request's work is done (the job deleted), its answer never sent; an
    error answer is sent as it is; the next request is answered."""
    job_id = client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"][0]["importJobId"]
    qconnect_server.lose_answers("DeleteImportJob", times=2)
    with pytest.raises(ConnectionClosedError):
        client.delete_import_job(knowledgeBaseId=kb, importJobId=job_id)
    assert qconnect_server.stats.faults == 1
    missing = "12345678-1234-1234-1234-123456789012"
    status, code, _ = error_of(
        lambda: client.delete_import_job(knowledgeBaseId=kb, importJobId=missing)
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    job = client.get_import_job(knowledgeBaseId=kb, importJobId=job_id)["importJob"]
    assert job["status"] in ("DELETE_IN_PROGRESS", "DELETED")

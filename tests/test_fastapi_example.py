"""examples/fastapi_app.py: pages with cursors, the NDJSON stream, errors as HTTP, shutdown.

The app runs in-process (httpx's ASGITransport, with the app's own lifespan) against the fake
service, which the app's client finds through AWS_ENDPOINT_URL_QCONNECT.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from _scripts import load_example
from qconnect_async import AdaptiveRateLimiter, QConnectClient, RateController, RetryPolicy
from qconnect_async._config import set_testing
from qconnect_async.testing import QConnectServer

MISSING_KB = "00000000-0000-0000-0000-000000000000"
WIRE_KEYS = {
    "importJobId",
    "knowledgeBaseId",
    "uploadId",
    "knowledgeBaseArn",
    "importJobType",
    "status",
    "createdTime",
    "lastModifiedTime",
    "metadata",
    "externalSourceConfiguration",
}


example = load_example("fastapi_app")
app = example.app


@pytest.fixture
async def http(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an HTTP client talking to it in-process."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    async with app.router.lifespan_context(app):
        client: QConnectClient = app.state.qconnect
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http
    assert client.closed  # shutdown closed the one client (and its connections)


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    return qconnect_server.create_knowledge_base("kb")


def check_wire(job: dict[str, Any]) -> None:
    assert set(job) <= WIRE_KEYS
    assert job["createdTime"].endswith("Z") and job["lastModifiedTime"].endswith("Z")


async def test_pages_follow_cursors_to_every_job(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """limit sets the page size; next_cursor leads through every job once; null ends."""
    ids = qconnect_server.add_import_jobs(kb, 250)
    seen: list[str] = []
    cursor: str | None = None
    sizes = []
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        response = await http.get(f"/knowledge-bases/{kb}/import-jobs", params=params)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        for job in body["items"]:
            check_wire(job)
        seen += [job["importJobId"] for job in body["items"]]
        sizes.append(len(body["items"]))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sizes == [100, 100, 50]
    assert sorted(seen) == sorted(ids)


async def test_a_knowledge_base_may_be_given_as_its_arn(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """The ARN (with its slash) works in the path; its cursors are the KB's."""
    qconnect_server.add_import_jobs(kb, 3)
    arn = qconnect_server.knowledge_base_arn(kb)
    response = await http.get(f"/knowledge-bases/{arn}/import-jobs", params={"limit": 2})
    assert response.status_code == 200
    cursor = response.json()["next_cursor"]
    response = await http.get(f"/knowledge-bases/{kb}/import-jobs", params={"cursor": cursor})
    assert [len(response.json()["items"]), response.json()["next_cursor"]] == [1, None]


def forged(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        forged(["a", "list"]),
        forged({"kb": "whatever", "token": 7}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        forged("[" * 3000),  # nested too deep for json.loads
        "[" * 3000,
        "x" * 9000,  # longer than any cursor we hand out
    ],
)
async def test_a_malformed_cursor_is_a_422(http: httpx.AsyncClient, kb: str, cursor: str) -> None:
    """A cursor that is not one of ours: 422 in the error shape, never a 500."""
    response = await http.get(f"/knowledge-bases/{kb}/import-jobs", params={"cursor": cursor})
    assert response.status_code == 422
    assert set(response.json()) == {"code", "message", "request_id"}


async def test_a_cursor_of_another_kb_or_a_forged_token_is_refused(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """A cursor is bound to its KB; a token altered inside it is refused by the service."""
    other = qconnect_server.create_knowledge_base("other")
    for knowledge_base in (kb, other):
        qconnect_server.add_import_jobs(knowledge_base, 5)
    first = await http.get(f"/knowledge-bases/{kb}/import-jobs", params={"limit": 2})
    cursor = first.json()["next_cursor"]
    response = await http.get(f"/knowledge-bases/{other}/import-jobs", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["code"] == "InvalidCursor"
    fake = forged({"kb": kb, "token": "bm90IGEgdG9rZW4"})
    response = await http.get(f"/knowledge-bases/{kb}/import-jobs", params={"cursor": fake})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "ValidationException" and body["request_id"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten"])
async def test_a_bad_limit_is_a_422_in_the_same_shape(
    http: httpx.AsyncClient, kb: str, query: str
) -> None:
    """FastAPI's own parameter checks answer in the app's error shape."""
    response = await http.get(f"/knowledge-bases/{kb}/import-jobs?{query}")
    assert response.status_code == 422
    assert response.json()["code"] == "ValidationException"
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (None, 422, "ValidationException"),  # a malformed KB ID, refused before any request
        ({}, 404, "ResourceNotFoundException"),  # a KB that does not exist
        ({"code": "AccessDeniedException", "status": 403}, 403, "AccessDeniedException"),
        ({"code": "InternalServerException", "status": 500}, 502, "InternalServerException"),
        ({"code": "ConflictException", "status": 409}, 502, "ConflictException"),
    ],
)
async def test_errors_become_http_statuses(
    http: httpx.AsyncClient,
    qconnect_server: QConnectServer,
    fault: dict[str, Any] | None,
    status: int,
    code: str,
) -> None:
    """Each library error has its status, with {code, message, request_id}."""
    kb = "Not-A-KB" if fault is None else MISSING_KB
    if fault:
        qconnect_server.fail(**fault, times=None)
    response = await http.get(f"/knowledge-bases/{kb}/import-jobs")
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == code
    assert (body["request_id"] is None) == (fault is None)  # a request was made: it has an ID


@pytest.fixture
def few_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's client gives up after 2 attempts (the default 10 take ~17 s when throttled:
    the send-rate limiter slows down even with backoff off)."""
    policy = RetryPolicy(max_attempts=2)
    monkeypatch.setattr(example, "make_client", lambda: QConnectClient(retry=policy))


@pytest.mark.usefixtures("few_retries")
async def test_throttled_after_retries_is_a_503_with_retry_after(
    qconnect_server: QConnectServer, kb: str, http: httpx.AsyncClient
) -> None:
    """Still throttled once the client's retries are spent: 503 and Retry-After."""
    qconnect_server.throttle(times=None, retry_after=2.5)
    response = await http.get(f"/knowledge-bases/{kb}/import-jobs")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json()["code"] == "ThrottlingException"
    assert qconnect_server.stats.throttled > 1  # the client did retry first


@pytest.fixture
def slow_rate(monkeypatch: pytest.MonkeyPatch) -> AdaptiveRateLimiter:
    """The app's client paces at a steady 0.25 sends/s (one send per 4 s)."""
    control = RateController(scale=1e-12, hold=1e9, quiet=1e9, min_rate=0.1)
    limiter = AdaptiveRateLimiter(controller=control)
    monkeypatch.setattr(example, "make_client", lambda: QConnectClient(rate_limiter=limiter))
    return limiter


async def test_a_page_the_send_rate_cannot_serve_in_time_is_shed_with_a_503(
    qconnect_server: QConnectServer,
    kb: str,
    slow_rate: AdaptiveRateLimiter,
    http: httpx.AsyncClient,
) -> None:
    """Past PAGE_RATE_WAIT of expected wait for the send rate: 503 with Retry-After at once,
    and nothing sent to the service."""
    with set_testing(False):
        slow_rate.controller.pace_at(asyncio.get_running_loop().time(), 0.25)
        first = await http.get(f"/knowledge-bases/{kb}/import-jobs")  # spends the token
        assert first.status_code == 200
        qconnect_server.reset_stats()
        shed = await http.get(f"/knowledge-bases/{kb}/import-jobs")
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "4"
    assert shed.json()["code"] == "RateWaitExceeded"
    assert qconnect_server.stats.total_requests == 0


async def stream(http: httpx.AsyncClient, query: str = "") -> tuple[int, str, list[Any]]:
    response = await http.get(f"/import-jobs{query}")
    lines = [json.loads(line) for line in response.text.splitlines()]
    return response.status_code, response.headers["content-type"], lines


async def test_stream_lists_the_kbs_asked_for_as_ndjson(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """?kb=A&kb=B streams every job of A and B, one JSON object a line."""
    other = qconnect_server.create_knowledge_base("other")
    ignored = qconnect_server.create_knowledge_base("ignored")
    ids = qconnect_server.add_import_jobs(kb, 150) + qconnect_server.add_import_jobs(other, 20)
    qconnect_server.add_import_jobs(ignored, 5)
    status, kind, jobs = await stream(http, f"?kb={kb}&kb={other}")
    assert (status, kind) == (200, "application/x-ndjson")
    for job in jobs:
        check_wire(job)
    assert sorted(job["importJobId"] for job in jobs) == sorted(ids)


async def test_stream_without_kb_lists_every_kb(
    http: httpx.AsyncClient, qconnect_server: QConnectServer
) -> None:
    """No kb parameter: every KB of the account; none at all is an empty 200 stream."""
    assert await stream(http) == (200, "application/x-ndjson", [])
    ids = [
        job for kb in qconnect_server.seed(3, 0) for job in qconnect_server.add_import_jobs(kb, 40)
    ]
    _, _, jobs = await stream(http)
    assert sorted(job["importJobId"] for job in jobs) == sorted(ids)


async def test_stream_errors_before_the_first_job_keep_their_status(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """A bad KB ID (422), a denied (403) or missing (404) KB: a status, not a failed stream."""
    qconnect_server.add_import_jobs(kb, 5)
    response = await http.get("/import-jobs?kb=nope")
    assert response.status_code == 422
    response = await http.get(f"/import-jobs?kb={MISSING_KB}")
    assert (response.status_code, response.json()["code"]) == (404, "ResourceNotFoundException")
    qconnect_server.fail(code="AccessDeniedException", status=403, times=None)
    response = await http.get("/import-jobs")
    assert (response.status_code, response.json()["code"]) == (403, "AccessDeniedException")


async def test_an_error_mid_stream_ends_it_with_an_error_line(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """Once jobs were sent the status stays 200: the last line is {"error": {...}}."""
    ids = qconnect_server.add_import_jobs(kb, 250)
    qconnect_server.repeat_token(knowledge_base_id=kb)  # the second page loops
    status, _, lines = await stream(http, f"?kb={kb}")
    assert status == 200
    *jobs, last = lines
    assert [job["importJobId"] for job in jobs] == ids[:100]
    assert last == {
        "error": {
            "code": "PaginationLoop",
            "message": last["error"]["message"],
            "request_id": None,
            "knowledge_base_id": kb,
        }
    }


async def call_stream(
    http: httpx.AsyncClient, kbs: list[str], *, leave_after: int
) -> list[dict[str, Any]]:
    """Run an NDJSON response as a server would, the client leaving after `leave_after` lines;
    check that nothing of the listing is left running. Returns the messages sent."""
    client: QConnectClient = app.state.qconnect
    before = asyncio.all_tasks()
    jobs = client.list_import_jobs_many(kbs)
    first = await anext(jobs)
    assert asyncio.all_tasks() - before  # the listing's producers are running
    sent: list[dict[str, Any]] = []
    left = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        # Like uvicorn's, it does not wait: the stream spends its time waiting for pages.
        sent.append(message)
        if len(sent) > leave_after:
            left.set()

    response = example.NDJSONStream(first, jobs)
    await asyncio.wait_for(response({"type": "http"}, receive, send), 10)
    for _ in range(5):
        await asyncio.sleep(0)
    assert asyncio.all_tasks() == before
    with pytest.raises(StopAsyncIteration):
        await anext(jobs)
    return sent


async def test_a_client_leaving_mid_stream_ends_the_listing(
    http: httpx.AsyncClient, qconnect_server: QConnectServer
) -> None:
    """The client leaves after a few lines: the stream stops and the listing's tasks end."""
    kbs = [qconnect_server.create_knowledge_base(name) for name in ("a", "b", "c")]
    for kb in kbs:
        qconnect_server.add_import_jobs(kb, 300)
    qconnect_server.set_latency(0.02)
    sent = await call_stream(http, kbs, leave_after=5)
    assert 5 < len(sent) < 900
    assert all(m.get("more_body", True) for m in sent)  # no end of body: the client is gone


async def test_a_stream_never_started_still_ends_its_listing(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """The client is gone before the first line: the stream stops within the page at hand
    (the disconnect is seen at the next wait), and the listing still ends."""
    qconnect_server.add_import_jobs(kb, 250)
    sent = await call_stream(http, [kb], leave_after=0)
    assert sent[0]["type"] == "http.response.start"
    assert len(sent) <= 1 + 100 and all(m.get("more_body", True) for m in sent)


async def test_the_openapi_document_declares_models_stream_and_errors(
    http: httpx.AsyncClient, qconnect_server: QConnectServer, kb: str
) -> None:
    """/openapi.json: a page is Page of Job, the stream NDJSON of Job, and each error status
    (403/404/422/502/503) is the ErrorBody actually sent, as JSON; 503 has Retry-After."""
    document = (await http.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 shape is not what is sent
    ref = "#/components/schemas/"
    page = document["paths"]["/knowledge-bases/{kb}/import-jobs"]["get"]["responses"]
    stream = document["paths"]["/import-jobs"]["get"]["responses"]
    assert page["200"]["content"] == {"application/json": {"schema": {"$ref": ref + "Page"}}}
    assert stream["200"]["content"] == {"application/x-ndjson": {"schema": {"$ref": ref + "Job"}}}
    assert schemas["Page"]["properties"]["items"]["items"] == {"$ref": ref + "Job"}
    for responses in (page, stream):
        assert set(responses) == {"200", "403", "404", "422", "502", "503"}
        for status in ("403", "404", "422", "502", "503"):
            body = {"application/json": {"schema": {"$ref": ref + "ErrorBody"}}}
            assert responses[status]["content"] == body, status
        assert "Retry-After" in responses["503"]["headers"]
    # The document describes what is sent: a page, its jobs and an error, field for field.
    job_fields = set(schemas["Job"]["properties"])
    qconnect_server.add_import_jobs(kb, 30)
    body = (await http.get(f"/knowledge-bases/{kb}/import-jobs", params={"limit": 20})).json()
    assert set(body) == set(schemas["Page"]["properties"])
    assert all(set(schemas["Job"]["required"]) <= set(job) <= job_fields for job in body["items"])
    assert any("externalSourceConfiguration" in job for job in body["items"])
    error = (await http.get(f"/knowledge-bases/{MISSING_KB}/import-jobs")).json()
    assert set(error) == set(schemas["ErrorBody"]["properties"])

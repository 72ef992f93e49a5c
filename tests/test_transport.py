"""The transport: every request on aiobotocore's public path, like botocore's ordinary ones.

Contract tests: what our clients send (URL, headers, SigV4 scope) against a plain aiobotocore
client's requests, botocore's events fired for every page, the parser-factory contract our
cheap body decode rests on, and the Transport seam.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from wrapt import wrap_function_wrapper

from qconnect_async import (
    AccessDeniedError,
    PaginationLoopError,
    QConnectClient,
    QConnectError,
    ResourceNotFoundError,
    RetryPolicy,
    ThrottlingError,
    TransportError,
)
from qconnect_async._call import Call
from qconnect_async._decode import RAW_KEY
from qconnect_async.testing import QConnectServer

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=(\w+)")
# Every event botocore emits once per request (the ones instrumentations and users hook).
_EVENTS = (
    "provide-client-params",
    "before-parameter-build",
    "before-endpoint-resolution",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "response-received",
    "needs-retry",
    "after-call",
)


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 25)
    return kb_id


@pytest.fixture
async def raw(qconnect_server: QConnectServer) -> AsyncIterator[Any]:
    """A plain aiobotocore client, as an application would make it."""
    async with AioSession().create_client(
        "qconnect",
        region_name="us-east-1",
        endpoint_url=qconnect_server.endpoint_url,
        config=AioConfig(retries={"total_max_attempts": 1}),
    ) as client:
        yield client


def botocore_client(client: QConnectClient) -> Any:
    """The aiobotocore client under one of ours (test-only look inside our own object)."""
    return client._ops.transport._client  # type: ignore[union-attr]


def record(raw_client: Any) -> tuple[list[Any], Counter[str]]:
    """Record the requests a client sends and count botocore's events, with public hooks."""
    sent: list[Any] = []
    fired: Counter[str] = Counter()

    def on_send(request: Any, **_: Any) -> None:
        sent.append(request)

    def counter(name: str) -> Any:
        def count(**_: Any) -> None:
            fired[name] += 1

        return count

    events = raw_client.meta.events
    events.register("before-send.qconnect", on_send)
    for name in _EVENTS:
        events.register(f"{name}.qconnect", counter(name))
    return sent, fired


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_requests_match_botocores_ordinary_ones(
    kb: str, raw: Any, qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page's request has botocore's URL, headers, invocation id, trace id and scope."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793")
    theirs, _ = record(raw)
    paginator = raw.get_paginator("list_import_jobs")
    async for _ in paginator.paginate(knowledgeBaseId=kb, PaginationConfig={"PageSize": 10}):
        pass
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        ours, _ = record(botocore_client(client))
        pages = [p async for p in client.list_import_jobs(kb, page_size=10).pages()]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert len(ours) == len(theirs) == 3
    ids = [r.headers["amz-sdk-invocation-id"] for r in ours]
    assert len(set(ids)) == 3  # a fresh invocation id per page, as botocore's
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.method == other.method == "GET"
        a, b = urlsplit(mine.url), urlsplit(other.url)
        assert (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)
        q, their_q = parse_qs(a.query), parse_qs(b.query)
        assert q.keys() == their_q.keys() and q["maxResults"] == their_q["maxResults"]
        # The User-Agent is ours (fixed once per client); every other header is botocore's.
        assert {h.lower() for h in mine.headers} == {h.lower() for h in other.headers}
        assert _text(mine.headers["X-Amzn-Trace-Id"]) == _text(other.headers["X-Amzn-Trace-Id"])
        scope, signed, _ = _AUTH.match(_text(mine.headers["Authorization"])).groups()  # type: ignore[union-attr]
        their_scope, their_signed, _ = _AUTH.match(  # type: ignore[union-attr]
            _text(other.headers["Authorization"])
        ).groups()
        assert scope.split("/", 1)[1] == their_scope.split("/", 1)[1]
        assert scope.endswith("/us-east-1/wisdom/aws4_request")
        assert signed == their_signed


@pytest.mark.parametrize("owned", [True, False])
async def test_botocore_events_fire_for_every_page(
    kb: str, raw: Any, qconnect_server: QConnectServer, owned: bool
) -> None:
    """Each of botocore's per-request events fires once per page, as for its paginator."""
    _, counting = record(raw)
    paginator = raw.get_paginator("list_import_jobs")
    async for _ in paginator.paginate(knowledgeBaseId=kb, PaginationConfig={"PageSize": 5}):
        pass
    theirs = Counter(counting)  # a copy: a borrowed client goes on counting into it
    if owned:
        client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
        await client.open()
        _, fired = record(botocore_client(client))
    else:
        _, fired = record(raw)
        client = QConnectClient.from_client(raw)
    try:
        pages = [p async for p in client.list_import_jobs(kb, page_size=5).pages()]
    finally:
        await client.close()
    assert len(pages) == 5
    assert fired == theirs == dict.fromkeys(_EVENTS, 5)


async def test_an_instrumentor_wrapping_make_api_call_sees_every_page(
    qconnect_server: QConnectServer,
) -> None:
    """A wrapper of _make_api_call (what ddtrace and the X-Ray SDK install) sees 10 of 10.

    OpenTelemetry's own AiobotocoreInstrumentor: test_telemetry.py.
    """
    kb_id = qconnect_server.create_knowledge_base("ten")
    qconnect_server.add_import_jobs(kb_id, 100)
    seen: list[str] = []

    async def traced(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        seen.append(args[0])
        return await wrapped(*args, **kwargs)

    original = AioBaseClient.__dict__["_make_api_call"]
    wrap_function_wrapper(AioBaseClient, "_make_api_call", traced)
    try:
        async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
            pages = [p async for p in client.list_import_jobs(kb_id, page_size=10).pages()]
    finally:
        AioBaseClient._make_api_call = original  # type: ignore[method-assign]
    assert len(pages) == 10
    assert seen == ["ListImportJobs"] * 10


async def test_owned_session_hands_listing_bodies_back_unparsed(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """The parser factory on our own session: 2xx listing bodies raw, other answers parsed.

    Pins the aiobotocore contract the cheap decode rests on: the session component
    ``response_parser_factory``, ``create_parser(protocol)``, an awaited ``parse(response,
    shape)`` with ``status_code``/``headers``/``body`` (async since aiobotocore 2.22).
    """
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        boto = botocore_client(client)
        answer = await boto.list_import_jobs(knowledgeBaseId=kb, maxResults=3)
        assert b'"importJobSummaries"' in answer[RAW_KEY]
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert answer["ResponseMetadata"]["RequestId"]
        other = await boto.get_knowledge_base(knowledgeBaseId=kb)
        assert RAW_KEY not in other and other["knowledgeBase"]["knowledgeBaseId"] == kb
        with pytest.raises(boto.exceptions.ResourceNotFoundException):
            await boto.list_import_jobs(
                knowledgeBaseId="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", maxResults=3
            )


@pytest.mark.parametrize("owned", [True, False])
async def test_errors_chain_botocores_modelled_exception_on_every_page(
    kb: str, raw: Any, qconnect_server: QConnectServer, owned: bool
) -> None:
    """A 403 on a later page is typed, resumable, and chains the modelled exception."""
    client = (
        QConnectClient(endpoint_url=qconnect_server.endpoint_url)
        if owned
        else QConnectClient.from_client(raw)
    )
    async with client:
        pages = client.list_import_jobs(kb, page_size=10).pages()
        first = await anext(pages)
        qconnect_server.fail(code="AccessDeniedException", status=403, message="no", times=1)
        with pytest.raises(AccessDeniedError) as info:
            await anext(pages)
        await pages.aclose()
    err = info.value
    assert (err.code, err.http_status, err.message) == ("AccessDeniedException", 403, "no")
    assert err.request_id
    assert err.next_token == first.next_token
    assert type(err.__cause__).__name__ == "AccessDeniedException"


async def test_throttles_are_retried_with_retry_after(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """A throttled later page carries Retry-After into the retry, then succeeds."""
    seen: list[Any] = []
    policy = RetryPolicy(on_retry=seen.append)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, retry=policy) as c:
        pages = c.list_import_jobs(kb, page_size=10).pages()
        items = len((await anext(pages)).items)
        qconnect_server.throttle(times=1, retry_after=1)
        items += sum([len(p.items) async for p in pages])
    assert items == 25
    [details] = seen
    assert isinstance(details.cause, ThrottlingError)
    assert details.cause.http_status == 400  # the model's status, retried by its code
    assert details.cause.retry_after == 1.0


@pytest.mark.parametrize("owned", [True, False])
async def test_a_plain_clients_errors_are_built_naming_its_region_and_no_account(
    kb: str, raw: Any, qconnect_server: QConnectServer, owned: bool
) -> None:
    """A client not opened by a QConnectRouter does not know its account: its errors carry
    its Region and account_id None, from the attempt the retry hook sees to the loop guard."""
    seen: list[Any] = []
    policy = RetryPolicy(on_retry=seen.append)
    client = (
        QConnectClient(endpoint_url=qconnect_server.endpoint_url, retry=policy)
        if owned
        else QConnectClient.from_client(raw, retry=policy)
    )
    errors: list[QConnectError] = []
    async with client:
        qconnect_server.fail("GetImportJob", times=1)
        with pytest.raises(ResourceNotFoundError) as missing:
            await client.get_import_job(kb, "00000000-0000-4000-8000-000000000000")
        errors += [seen[0].cause, missing.value]
        qconnect_server.repeat_token(times=1)
        with pytest.raises(PaginationLoopError) as looped:
            _ = [job async for job in client.list_import_jobs(kb, page_size=10)]
        errors.append(looped.value)
    assert [(e.account_id, e.region) for e in errors] == [(None, "us-east-1")] * 3


async def test_borrowed_clients_times_are_utc_too(kb: str, raw: Any) -> None:
    """botocore's parser gives tzlocal datetimes; a borrowed client's jobs still carry UTC."""
    async with QConnectClient.from_client(raw) as client:
        jobs = [j async for j in client.list_import_jobs(kb)]
    assert jobs and all(j.created_time.tzinfo is UTC for j in jobs)
    assert all(j.last_modified_time.tzinfo is UTC for j in jobs)


async def test_user_agent_is_built_once_and_names_this_library(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """Every request carries one fixed User-Agent: botocore's, then qconnect-async/<version>."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        sent, _ = record(botocore_client(client))
        async for _ in client.list_import_jobs(kb, page_size=10).pages():
            pass
    agents = {_text(r.headers["User-Agent"]) for r in sent}
    assert len(sent) == 3 and len(agents) == 1
    [agent] = agents
    assert agent.startswith(("Botocore/", "aiobotocore/")) and " qconnect-async/" in agent


class _PagesTransport:
    """A Transport of our own: three pages of nothing, no HTTP at all."""

    def __init__(self) -> None:
        self.tokens: list[str | None] = []
        self.closed = False

    @property
    def max_pool_connections(self) -> int:
        return 10

    @property
    def region_name(self) -> str | None:
        return "us-east-1"

    @property
    def partition(self) -> str | None:
        return "aws"

    async def close(self) -> None:
        self.closed = True

    clock_offset = 0.0

    async def send(self, call: Call, params: Mapping[str, Any]) -> Mapping[str, Any]:
        assert call.operation == "ListImportJobs"
        self.tokens.append(params.get("nextToken"))
        following = {None: "t1", "t1": "t2", "t2": None}[params.get("nextToken")]
        return {"importJobSummaries": [], "nextToken": following}


async def test_the_client_runs_on_any_transport() -> None:
    """The Transport protocol is the seam: a test transport serves a listing, and is closed."""
    transport = _PagesTransport()
    async with QConnectClient._with_transport(transport) as client:
        listing = client.list_import_jobs("aaaaaaaa-bbbb-cccc-dddd-000000000001")
        pages = [p async for p in listing.pages()]
    assert len(pages) == 3
    assert transport.tokens == [None, "t1", "t2"]
    assert transport.closed


async def test_not_found_is_typed_with_its_cause(qconnect_server: QConnectServer) -> None:
    """An unknown KB is ResourceNotFoundError chaining botocore's modelled exception."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        with pytest.raises(ResourceNotFoundError) as info:
            async for _ in client.list_import_jobs("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"):
                pass
    assert type(info.value.__cause__).__name__ == "ResourceNotFoundException"


async def test_connection_refused_is_a_transport_error(qconnect_server: QConnectServer) -> None:
    """No server at the endpoint: TransportError after the attempts allowed."""
    async with QConnectClient(
        endpoint_url="http://127.0.0.1:9", retry=RetryPolicy(max_attempts=2)
    ) as client:
        with pytest.raises(TransportError) as info:
            async for _ in client.list_import_jobs("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"):
                pass
    assert info.value.operation == "ListImportJobs"

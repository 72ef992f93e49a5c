"""One knowledge base over real HTTP: the client, the pager, errors and odd answers."""

from __future__ import annotations

import asyncio
import pickle
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from qconnect_async import (
    AccessDeniedError,
    ImportJob,
    ImportJobPage,
    ImportJobStatus,
    MalformedResponseError,
    PaginationLoopError,
    QConnectClient,
    QConnectError,
    ResourceNotFoundError,
    RetryPolicy,
    ServiceError,
    ThrottlingError,
    TransportError,
    UnknownConfiguration,
    ValidationError,
)
from qconnect_async.testing import QConnectServer

MISSING_KB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 250)
    return kb_id


def requests(server: QConnectServer) -> int:
    return server.stats.requests.get("ListImportJobs", 0)


async def test_lists_every_job_with_the_largest_pages(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """250 jobs come back typed, in 3 requests of up to 100 (the service's maximum)."""
    jobs = [job async for job in client.list_import_jobs(kb)]
    assert len(jobs) == 250
    assert len({j.import_job_id for j in jobs}) == 250
    assert all(isinstance(j, ImportJob) and j.knowledge_base_id == kb for j in jobs)
    assert requests(qconnect_server) == 3


async def test_pages_carry_items_token_and_kb(client: QConnectClient, kb: str) -> None:
    """pages() yields ImportJobPage with the next token; the last page has none."""
    pages = [page async for page in client.list_import_jobs(kb, page_size=100).pages()]
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert all(isinstance(p, ImportJobPage) and p.knowledge_base_id == kb for p in pages)
    assert pages[0].next_token and pages[1].next_token
    assert pages[-1].next_token is None


async def test_resume_from_any_page_token(client: QConnectClient, kb: str) -> None:
    """Starting from a page's next_token lists exactly the jobs after that page."""
    pages = [p async for p in client.list_import_jobs(kb, page_size=40).pages()]
    everything = [j.import_job_id for p in pages for j in p.items]
    resumed = client.list_import_jobs(kb, page_size=40, starting_token=pages[2].next_token)
    rest = [j.import_job_id async for j in resumed]
    assert rest == everything[120:]


async def test_arn_is_reduced_to_the_id(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A KB given as an ARN lists the same jobs."""
    arn = qconnect_server.knowledge_base_arn(kb)
    pages = [page async for page in client.list_import_jobs(arn).pages()]
    assert {page.knowledge_base_id for page in pages} == {kb}
    assert len([j for page in pages for j in page.items if j.knowledge_base_id == kb]) == 250


async def test_listing_is_lazy(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Creating a pager sends nothing; iteration does."""
    pager = client.list_import_jobs(kb)
    pages = pager.pages()
    await asyncio.sleep(0)
    assert requests(qconnect_server) == 0
    await anext(pages)
    await pages.aclose()
    assert requests(qconnect_server) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"knowledge_base_id": ""},
        {"knowledge_base_id": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"},
        {"knowledge_base_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/importJobs"},
        {"knowledge_base_id": "../aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
        {"knowledge_base_id": "kb-1"},
        {"page_size": 0},
        {"page_size": 101},
        {"page_size": -5},
        {"page_size": "10"},
        {"starting_token": ""},
        {"starting_token": "t" * 4097},
    ],
)
async def test_bad_input_fails_before_any_request(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, kwargs: dict[str, Any]
) -> None:
    """Bad IDs, page sizes and tokens are ValidationErrors and nothing is sent."""
    args: dict[str, Any] = {"knowledge_base_id": kb, **kwargs}
    with pytest.raises(ValidationError):
        client.list_import_jobs(**args)
    assert qconnect_server.stats.total_requests == 0


async def test_empty_page_with_a_token_is_followed(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """An empty page that carries a nextToken does not end the listing."""
    qconnect_server.empty_page(times=2)
    pages = [p async for p in client.list_import_jobs(kb).pages()]
    assert [len(p.items) for p in pages] == [0, 0, 100, 100, 50]


async def test_repeated_token_raises_after_a_bounded_number_of_requests(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A token seen before in the listing raises PaginationLoopError, not an endless loop."""
    qconnect_server.repeat_token(times=None)
    with pytest.raises(PaginationLoopError) as info:
        async for _ in client.list_import_jobs(kb, page_size=100):
            pass
    assert requests(qconnect_server) == 2  # page 1, then page 2 answering its own token
    assert info.value.knowledge_base_id == kb
    assert info.value.next_token is not None


async def test_token_seen_earlier_not_only_last_is_a_loop(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Resuming from a token and being sent that same token back is caught too."""
    first = await anext(client.list_import_jobs(kb).pages())
    qconnect_server.repeat_token(times=None)
    with pytest.raises(PaginationLoopError) as info:
        async for _ in client.list_import_jobs(kb, starting_token=first.next_token):
            pass
    assert requests(qconnect_server) == 2
    assert (info.value.operation, info.value.knowledge_base_id) == ("ListImportJobs", kb)


@pytest.mark.parametrize("kind", ["invalid_json", "missing_summaries", "empty_body"])
async def test_malformed_200_is_an_error_never_zero_jobs(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, kind: Any
) -> None:
    """Bad JSON or a body without importJobSummaries raises MalformedResponseError."""
    qconnect_server.malformed(kind=kind)
    with pytest.raises(MalformedResponseError) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    err = info.value
    assert err.http_status == 200
    assert err.request_id
    assert err.knowledge_base_id == kb
    assert err.next_token is None  # the first page failed: resume from the start


async def test_malformed_page_later_in_the_listing_keeps_the_resume_token(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A failure on page 2 carries page 1's next token, so the listing can resume."""
    pages = client.list_import_jobs(kb).pages()
    first = await anext(pages)
    qconnect_server.malformed(kind="missing_summaries")
    with pytest.raises(MalformedResponseError) as info:
        await anext(pages)
    assert info.value.next_token == first.next_token
    rest = client.list_import_jobs(kb, starting_token=info.value.next_token)
    assert len([j async for j in rest]) == 150


async def test_unknown_values_are_kept(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """A new status, type, source, union member or field reaches the user, no error."""
    kb_id = qconnect_server.create_knowledge_base("odd")
    qconnect_server.add_raw_import_job(
        kb_id,
        {
            "status": "ARCHIVED",
            "importJobType": "ARTICLES",
            "externalSourceConfiguration": {
                "source": "SALESFORCE",
                "configuration": {"salesforceConfiguration": {"org": "x"}},
            },
            "priority": 7,
        },
    )
    [job] = [j async for j in client.list_import_jobs(kb_id)]
    assert job.status == "ARCHIVED"
    assert job.import_job_type == "ARTICLES"
    assert job.external_source_configuration is not None
    assert job.external_source_configuration.source == "SALESFORCE"
    assert job.external_source_configuration.configuration == UnknownConfiguration(
        name="salesforceConfiguration", raw={"org": "x"}
    )
    assert job.model_extra == {"priority": 7}


@pytest.mark.parametrize(
    ("code", "status", "cls", "builtin"),
    [
        ("AccessDeniedException", 403, AccessDeniedError, PermissionError),
        ("ValidationException", 400, ValidationError, ValueError),
        ("ResourceNotFoundException", 404, ResourceNotFoundError, LookupError),
    ],
)
async def test_service_errors_become_typed_errors(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    code: str,
    status: int,
    cls: type[QConnectError],
    builtin: type[Exception],
) -> None:
    """403, 400 and 404 become typed errors with code, status, request id and cause."""
    qconnect_server.fail(code=code, status=status, message="nope", times=None)
    with pytest.raises(cls) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    err = info.value
    assert isinstance(err, builtin)
    assert (err.code, err.http_status, err.message) == (code, status, "nope")
    assert err.request_id
    assert err.operation == "ListImportJobs"
    assert err.knowledge_base_id == kb
    assert isinstance(err.__cause__, ClientError)
    assert requests(qconnect_server) == 1  # never retried


async def test_unknown_kb_is_not_found(client: QConnectClient) -> None:
    """A KB that does not exist is ResourceNotFoundError from the real backend."""
    with pytest.raises(ResourceNotFoundError) as info:
        async for _ in client.list_import_jobs(MISSING_KB):
            pass
    assert info.value.code == "ResourceNotFoundException"
    assert info.value.resource_name == MISSING_KB


async def test_a_missing_job_is_told_from_a_missing_kb_by_its_resource_name(
    client: QConnectClient, kb: str
) -> None:
    """resourceName of the service's answer names what is missing: the job, not its KB."""
    job_id = "12345678-1234-1234-1234-123456789012"
    with pytest.raises(ResourceNotFoundError) as info:
        await client.get_import_job(kb, job_id)
    assert info.value.resource_name == job_id
    assert pickle.loads(pickle.dumps(info.value)).resource_name == job_id


async def test_unknown_code_keeps_its_code(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A code the library does not map is a ServiceError that keeps the code (not retried)."""
    qconnect_server.fail(code="BrandNewException", status=400, times=None)
    with pytest.raises(ServiceError) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    assert type(info.value) is ServiceError
    assert info.value.code == "BrandNewException"
    assert requests(qconnect_server) == 1


async def test_one_attempt_under_botocore_retries_are_ours(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A throttle and a 500 are retried by the library alone: one request per attempt."""
    qconnect_server.throttle(times=1)
    qconnect_server.fail(code="InternalServerException", status=500, times=1)
    jobs = [j async for j in client.list_import_jobs(kb)]
    assert len(jobs) == 250
    assert requests(qconnect_server) == 3 + 2


async def test_retries_give_up_with_a_typed_error(qconnect_server: QConnectServer, kb: str) -> None:
    """Persistent throttling ends in ThrottlingError after max_attempts requests."""
    qconnect_server.throttle(times=None)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, retry=RetryPolicy(max_attempts=3)
    ) as client:
        with pytest.raises(ThrottlingError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    assert info.value.http_status == 400  # the model's status for ThrottlingException
    assert requests(qconnect_server) == 3


async def test_break_leaves_nothing_running_and_the_client_usable(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """break after the first job: no request in flight, no task left, next listing works."""
    before = asyncio.all_tasks()
    async for _ in client.list_import_jobs(kb):
        break
    assert asyncio.all_tasks() == before
    assert qconnect_server.stats.in_flight == 0
    assert requests(qconnect_server) == 1
    assert len([j async for j in client.list_import_jobs(kb)]) == 250


async def test_cancel_mid_request_leaves_the_client_usable(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """Cancelling a listing while its request is in flight ends it; the client still works."""
    qconnect_server.set_latency(0.5)

    async def consume() -> None:
        async for _ in client.list_import_jobs(kb):
            pass

    task = asyncio.create_task(consume())
    for _ in range(200):  # until the server holds the request (bounded: 2 s at most)
        if qconnect_server.stats.in_flight:
            break
        await asyncio.sleep(0.01)
    assert qconnect_server.stats.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    qconnect_server.set_latency(0)
    assert len([j async for j in client.list_import_jobs(kb)]) == 250


async def test_client_lifecycle(qconnect_server: QConnectServer) -> None:
    """Use before open and after close are clear errors; closing twice is harmless."""
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
    with pytest.raises(RuntimeError, match="open the client"):
        await anext(client.list_import_jobs(MISSING_KB).pages())
    async with client:
        pass
    await client.close()
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        await anext(client.list_import_jobs(MISSING_KB).pages())
    with pytest.raises(RuntimeError, match="closed"):
        await client.open()


async def test_shared_between_concurrent_tasks(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """One client serves many concurrent listings, as in a FastAPI app."""
    kbs = [qconnect_server.create_knowledge_base(f"kb{i}") for i in range(5)]
    for i, kb_id in enumerate(kbs):
        qconnect_server.add_import_jobs(kb_id, 30 + i)

    async def count(kb_id: str) -> int:
        return len([j async for j in client.list_import_jobs(kb_id, page_size=10)])

    assert await asyncio.gather(*(count(k) for k in kbs)) == [30, 31, 32, 33, 34]


OTHER_LOOP = "this QConnectClient belongs to another event loop; open one client per loop"


def list_from_another_loop(client: QConnectClient, kb: str) -> list[BaseException]:
    """List ``kb`` through ``client`` on a new loop in a thread: what that raised."""
    errors: list[BaseException] = []

    def other_loop() -> None:
        async def use() -> None:
            async for _ in client.list_import_jobs(kb):
                pass

        try:
            asyncio.run(use())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_loop)
    thread.start()
    thread.join(10)
    return errors


async def test_from_another_event_loop_is_a_clear_error(client: QConnectClient, kb: str) -> None:
    """A client used from a loop other than its own raises instead of hanging."""
    errors = list_from_another_loop(client, kb)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert str(errors[0]) == OTHER_LOOP


async def test_a_closed_client_says_it_is_closed(qconnect_server: QConnectServer, kb: str) -> None:
    """A listing on a client after its ``async with`` raises, in words, before any request."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        pass
    with pytest.raises(RuntimeError) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    assert str(info.value) == "this QConnectClient is closed"


async def test_endpoint_from_the_service_specific_variable(
    qconnect_server: QConnectServer, kb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL_QCONNECT points a client without endpoint_url at the server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    async with QConnectClient() as client:
        assert len([j async for j in client.list_import_jobs(kb)]) == 250


async def test_errors_and_logs_carry_no_credentials(
    qconnect_server: QConnectServer, kb: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing raised or logged carries the secret key or session token."""
    secret, token = "SECRET-do-not-leak-1234", "TOKEN-do-not-leak-5678"
    qconnect_server.throttle(times=1)
    qconnect_server.fail(code="AccessDeniedException", status=403, times=1)
    caplog.set_level("DEBUG", logger="qconnect_async")
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=secret,
        aws_session_token=token,
    ) as client:
        with pytest.raises(AccessDeniedError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    err = info.value
    texts = [str(err), repr(err), str(vars(err)), caplog.text]
    assert all(secret not in t and token not in t for t in texts)


async def test_a_session_of_yours_is_the_one_that_sends(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """``session=``: the client is created from your AioSession, so its hooks see each call."""
    session = AioSession()
    seen: list[str] = []
    session.register(
        "before-call.qconnect.ListImportJobs", lambda model, **_: seen.append(model.name)
    )
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, session=session) as c:
        jobs = [job async for job in c.list_import_jobs(kb, page_size=100)]
    assert len(jobs) == 250
    assert seen == ["ListImportJobs"] * 3


class TestBorrowedClient:
    """QConnectClient.from_client wraps an aiobotocore client the app manages."""

    @pytest.fixture
    async def raw(self, qconnect_server: QConnectServer) -> AsyncIterator[Any]:
        session = AioSession()
        async with session.create_client(
            "qconnect",
            region_name="us-east-1",
            endpoint_url=qconnect_server.endpoint_url,
            config=AioConfig(retries={"total_max_attempts": 1}),
        ) as raw:
            yield raw

    async def test_lists_and_never_closes_the_borrowed_client(self, raw: Any, kb: str) -> None:
        """Listing works; closing ours leaves the app's client open."""
        client = QConnectClient.from_client(raw)
        async with client:
            jobs = [j async for j in client.list_import_jobs(kb)]
        assert len(jobs) == 250
        assert jobs[0].status in set(ImportJobStatus)
        response = await raw.list_import_jobs(knowledgeBaseId=kb, maxResults=1)
        assert len(response["importJobSummaries"]) == 1

    async def test_belongs_to_the_loop_of_its_first_use(self, raw: Any, kb: str) -> None:
        """A borrowed client, once used on this loop, refuses another loop in words."""
        client = QConnectClient.from_client(raw)
        assert len([j async for j in client.list_import_jobs(kb)]) == 250
        assert [str(e) for e in list_from_another_loop(client, kb)] == [OTHER_LOOP]

    async def test_malformed_body_through_botocore_parser(
        self, raw: Any, kb: str, qconnect_server: QConnectServer
    ) -> None:
        """botocore turns bad JSON into {}; we still raise MalformedResponseError."""
        qconnect_server.malformed(kind="invalid_json")
        client = QConnectClient.from_client(raw)
        with pytest.raises(MalformedResponseError):
            async for _ in client.list_import_jobs(kb):
                pass

    async def test_pool_smaller_than_concurrency_is_refused(self, raw: Any) -> None:
        """A pool that would silently cap concurrency is a clear error."""
        with pytest.raises(ValueError, match="connection pool"):
            QConnectClient.from_client(raw, max_concurrency=50)

    def test_only_qconnect_clients(self) -> None:
        """Something that is not an aiobotocore client is refused."""
        with pytest.raises(TypeError):
            QConnectClient.from_client(object())


async def test_server_errors_are_retried_then_service_error(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """A persistent 503 ends as ServiceError with its code after the attempts allowed."""
    qconnect_server.fail(code="ServiceUnavailableException", status=503, times=None)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, retry=RetryPolicy(max_attempts=2)
    ) as client:
        with pytest.raises(ServiceError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    assert info.value.code == "ServiceUnavailableException"
    assert requests(qconnect_server) == 2


async def test_configuration_errors_are_validation_errors(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No region or an unknown profile fail at open as ValidationError with a code."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ValidationError) as info:
        async with QConnectClient(endpoint_url=qconnect_server.endpoint_url):
            pass
    assert info.value.code == "NoRegion"
    with pytest.raises(ValidationError) as info:
        async with QConnectClient(region_name="us-east-1", profile_name="no-such-profile"):
            pass
    assert info.value.code == "ProfileNotFound"


async def test_read_timeout_is_retried_then_a_transport_error(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """A read that times out is retried like any transient failure, then TransportError."""
    qconnect_server.set_latency(0.6)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url,
        read_timeout=0.2,
        retry=RetryPolicy(max_attempts=2),
    ) as client:
        with pytest.raises(TransportError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    assert "Timeout" in info.value.code
    assert requests(qconnect_server) == 2


async def test_listing_deadline(qconnect_server: QConnectServer, kb: str) -> None:
    """A listing given a deadline ends with TransportError(DeadlineExceeded) when it passes."""
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, retry=RetryPolicy(deadline=0.3)
    ) as client:
        # A first call pays the client's one-time work (credentials, TLS setup on newer
        # aiobotocore), which on a loaded machine can outlast the deadline before any send.
        async with client.list_knowledge_bases() as warm:
            await anext(warm.pages())
        qconnect_server.set_latency(1.0)
        with pytest.raises(TransportError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    assert info.value.code == "DeadlineExceeded"
    assert info.value.knowledge_base_id == kb
    assert requests(qconnect_server) == 1


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "8"])
def test_bad_max_concurrency_is_refused_at_construction(value: object) -> None:
    """max_concurrency must be a positive int, for the client and for each fan-out."""
    with pytest.raises(ValueError, match="max_concurrency"):
        QConnectClient(max_concurrency=value)  # type: ignore[arg-type]


async def test_bad_fanout_width_is_refused_before_any_request(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A fan-out width of 0 fails at the call, before anything is sent."""
    with pytest.raises(ValueError, match="max_concurrency"):
        client.list_import_jobs_many([kb], max_concurrency=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        client.list_all_import_jobs(max_concurrency=0)
    assert qconnect_server.stats.total_requests == 0


async def test_timeouts_are_shorter_than_botocores_and_settable(
    qconnect_server: QConnectServer,
) -> None:
    """Default connect/read timeouts are below botocore's 60 s; both can be set."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        assert client._ops.transport is not None
        config = client._ops.transport._client.meta.config
        assert config.connect_timeout < 60 and config.read_timeout < 60
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, connect_timeout=1.5, read_timeout=7.0
    ) as client:
        assert client._ops.transport is not None
        config = client._ops.transport._client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (1.5, 7.0)


async def test_knowledge_bases_resume_from_an_errors_token(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """list_knowledge_bases(starting_token=...) resumes where a failed listing stopped."""
    ids = {qconnect_server.create_knowledge_base(f"kb{i}") for i in range(5)}
    seen: list[str] = []
    with pytest.raises(AccessDeniedError) as info:
        async with client.list_knowledge_bases(page_size=2) as kbs:
            async for kb in kbs:
                seen.append(kb.knowledge_base_id)
                if len(seen) == 2:
                    qconnect_server.fail(
                        "ListKnowledgeBases", code="AccessDeniedException", status=403
                    )
    token = info.value.next_token
    assert token is not None
    async with client.list_knowledge_bases(page_size=2, starting_token=token) as rest:
        seen += [kb.knowledge_base_id async for kb in rest]
    assert sorted(seen) == sorted(ids)

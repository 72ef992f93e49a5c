"""Reliability under real faults, over HTTP: close, owned streams, error classes, deadlines,
empty tokens, cut bodies, foreign ARNs and refused connections."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import aiobotocore.session
import pytest
from aiobotocore.config import AioConfig

from qconnect_async import (
    ConflictError,
    CredentialsError,
    DeadlineExceededError,
    MalformedResponseError,
    QConnectClient,
    RetryDetails,
    RetryPolicy,
    ServiceError,
    ServiceQuotaExceededError,
    TransportError,
    ValidationError,
)
from qconnect_async.testing import QConnectServer, set_testing


@pytest.fixture
async def client(qconnect_server: QConnectServer) -> AsyncIterator[QConnectClient]:
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, max_concurrency=4) as c:
        yield c


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 250)
    return kb_id


def requests(server: QConnectServer, operation: str = "ListImportJobs") -> int:
    return server.stats.requests.get(operation, 0)


def seed(server: QConnectServer, kbs: int, jobs: int) -> list[str]:
    ids = [server.create_knowledge_base(f"kb-{i}") for i in range(kbs)]
    for kb_id in ids:
        server.add_import_jobs(kb_id, jobs)
    return ids


async def in_flight(server: QConnectServer, count: int) -> None:
    """Wait (real time, 5 s at most) until the server holds ``count`` requests."""
    for _ in range(500):
        if server.stats.in_flight >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server never held {count} requests")


async def drained(server: QConnectServer) -> None:
    """Let the server's threads finish what was cut off, so no test sees another's requests."""
    server.set_latency(0)
    for _ in range(500):
        if server.stats.in_flight == 0:
            return
        await asyncio.sleep(0.01)


# -- close ---------------------------------------------------------------------------------------


async def test_close_ends_a_request_in_flight_at_once(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """close() while a page is awaited: RuntimeError("closed") before the answer, no retry."""
    qconnect_server.set_latency(1.5)
    client = await QConnectClient(endpoint_url=qconnect_server.endpoint_url).open()

    async def consume() -> int:
        return len([job async for job in client.list_import_jobs(kb)])

    task = asyncio.create_task(consume())
    await in_flight(qconnect_server, 1)
    loop = asyncio.get_running_loop()
    closing = loop.time()
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await task
    assert loop.time() - closing < 1.0
    # Ended before the server answered: the request is still being served, and was sent once.
    assert qconnect_server.stats.in_flight == 1
    assert requests(qconnect_server) == 1
    await drained(qconnect_server)


async def test_a_request_cut_by_close_and_cancelled_by_its_caller_stays_cancelled_naming_close(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """close() cuts a page awaited, then its caller cancels it too: the caller's cancellation
    is kept (CancelledError, not RuntimeError), and its message says the client closed."""
    qconnect_server.set_latency(1.5)
    client = await QConnectClient(endpoint_url=qconnect_server.endpoint_url).open()
    raised: list[BaseException] = []

    async def consume() -> None:
        try:
            async for _ in client.list_import_jobs(kb):
                pass  # pragma: no cover - cut before the first page
        except BaseException as exc:
            raised.append(exc)
            raise

    task = asyncio.create_task(consume())
    await in_flight(qconnect_server, 1)
    closing = asyncio.create_task(client.close())
    await asyncio.sleep(0)  # the close has cut the request, which has not run since
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await closing
    (error,) = raised
    assert type(error) is asyncio.CancelledError
    assert error.args == ("this QConnectClient is closed",)
    await drained(qconnect_server)


async def test_close_ends_a_request_waiting_to_retry(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """close() while a request backs off (a 503 asking for 30 s): RuntimeError at once, and
    the retry is never sent."""
    qconnect_server.fail(code="ServiceUnavailableException", status=503, times=None, retry_after=30)
    backing_off = asyncio.Event()
    policy = RetryPolicy(on_retry=lambda _: backing_off.set())
    with set_testing(False):  # the Retry-After wait is real here
        client = await QConnectClient(
            endpoint_url=qconnect_server.endpoint_url, retry=policy
        ).open()
        task = asyncio.create_task(anext(aiter(client.list_import_jobs(kb))))
        await asyncio.wait_for(backing_off.wait(), 5)
        loop = asyncio.get_running_loop()
        closing = loop.time()
        await client.close()
        with pytest.raises(RuntimeError, match="closed"):
            await asyncio.wait_for(task, 5)
        assert loop.time() - closing < 1.0
    await asyncio.sleep(0.2)
    assert requests(qconnect_server) == 1


async def test_close_ends_every_listing_of_a_fan_out(qconnect_server: QConnectServer) -> None:
    """close() during list_import_jobs_many: the consumer raises RuntimeError, no task is left."""
    kbs = seed(qconnect_server, 6, 20)
    qconnect_server.set_latency(1.5)
    before = asyncio.all_tasks()
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url, max_concurrency=3)
    await client.open()

    async def consume() -> int:
        async with client.list_import_jobs_many(kbs) as jobs:
            return len([job async for job in jobs])

    task = asyncio.create_task(consume())
    await in_flight(qconnect_server, 3)
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await task
    assert asyncio.all_tasks() == before
    assert requests(qconnect_server) == 3
    await drained(qconnect_server)


# -- streams own their tasks ---------------------------------------------------------------------


async def test_aclose_ends_every_producer_before_returning(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """aclose() on a _many stream returns only once every producer task has ended."""
    kbs = seed(qconnect_server, 8, 30)
    before = asyncio.all_tasks()
    stream = client.list_import_jobs_many(kbs, page_size=10)
    await anext(stream)
    # The producers, one per KB listed at once (the client's 4), say what they are in a dump.
    producers = {task.get_name() for task in asyncio.all_tasks() - before}
    assert producers == {f"qconnect-async-listing-{i}" for i in range(4)}
    await stream.aclose()
    assert asyncio.all_tasks() == before


async def test_aclose_of_list_all_ends_every_producer(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """aclose() on list_all_import_jobs's stream ends its producers, the KB listing's too."""
    seed(qconnect_server, 6, 30)
    before = asyncio.all_tasks()
    stream = client.list_all_import_jobs(page_size=10)
    await anext(stream)
    await stream.aclose()
    assert asyncio.all_tasks() == before


async def test_break_inside_aclosing_leaves_no_task(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """break inside contextlib.aclosing(list_all_import_jobs()) ends every producer."""
    seed(qconnect_server, 6, 30)
    before = asyncio.all_tasks()
    async with contextlib.aclosing(client.list_all_import_jobs(page_size=10)) as jobs:
        async for _ in jobs:
            break
    assert asyncio.all_tasks() == before
    # The client is still usable, and a closed stream stays ended.
    assert len([j async for j in client.list_all_import_jobs()]) == 180
    assert [j async for j in jobs] == []


async def test_fail_fast_still_raises_the_first_error_from_the_stream(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """The stream object keeps fail_fast: the typed error itself, and no task left behind."""
    kbs = seed(qconnect_server, 4, 30)
    qconnect_server.fail(code="ConflictException", status=409, times=None, knowledge_base_id=kbs[1])
    before = asyncio.all_tasks()
    with pytest.raises(ConflictError):
        async with client.list_import_jobs_many(kbs, page_size=10) as jobs:
            async for _ in jobs:
                pass
    assert asyncio.all_tasks() == before


# -- the error tree ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("ConflictException", 409, ConflictError),
        ("ServiceQuotaExceededException", 402, ServiceQuotaExceededError),
        ("SomethingNewException", 400, ServiceError),
        ("UnrecognizedClientException", 403, CredentialsError),
    ],
)
async def test_service_errors_have_their_class_and_are_not_retried(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    code: str,
    status: int,
    cls: type[Exception],
) -> None:
    """409, 402, unmapped codes and refused credentials: their own class, sent once."""
    qconnect_server.fail(code=code, status=status, times=None)
    with pytest.raises(cls) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    assert type(info.value) is cls
    assert requests(qconnect_server) == 1


@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (502, 10)])
async def test_an_html_error_page_is_a_service_error(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, status: int, attempts: int
) -> None:
    """A proxy's HTML page (no AWS code): a ServiceError keeping the status; a 4xx is sent
    once, a 5xx retried as any 5xx is."""
    qconnect_server.fail(status=status, message="from the proxy", times=None, html=True)
    with pytest.raises(ServiceError) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    assert type(info.value) is ServiceError
    assert (info.value.code, info.value.http_status) == (str(status), status)
    assert requests(qconnect_server) == attempts


async def test_missing_credentials_are_a_credentials_error(
    qconnect_server: QConnectServer, kb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credentials anywhere: CredentialsError before any request, not a bare QConnectError."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        with pytest.raises(CredentialsError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    assert info.value.code == "NoCredentialsError"
    assert requests(qconnect_server) == 0


async def test_partial_credentials_are_a_credentials_error(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key without its secret: CredentialsError when opening, not a ValidationError."""
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
    with pytest.raises(CredentialsError) as info:
        await client.open()
    assert info.value.code == "PartialCredentialsError"
    assert not isinstance(info.value, ValidationError)


# -- "" ends a listing ---------------------------------------------------------------------------


async def test_an_empty_next_token_ends_the_listing(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A last page with "nextToken": "" ends the listing, as botocore's paginator does."""
    qconnect_server.empty_last_token()
    pages = [page async for page in client.list_import_jobs(kb).pages()]
    assert sum(len(page.items) for page in pages) == 250
    assert pages[-1].next_token is None
    assert requests(qconnect_server) == 3


async def test_an_empty_next_token_ends_the_knowledge_base_listing(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """ListKnowledgeBases ending with "nextToken": "" ends too (and so does list_all)."""
    seed(qconnect_server, 3, 2)
    qconnect_server.empty_last_token("ListKnowledgeBases")
    assert len([kb async for kb in client.list_knowledge_bases()]) == 3
    assert len([job async for job in client.list_all_import_jobs()]) == 6
    assert requests(qconnect_server, "ListKnowledgeBases") == 2


# -- opening an open client ----------------------------------------------------------------------


ALREADY_OPEN = (
    "^this QConnectClient is already open: share the open client, do not open it again "
    r"\(its owner's `async with` closes it for everyone\)$"
)


async def test_opening_an_open_client_is_an_error(client: QConnectClient, kb: str) -> None:
    """A nested `async with` on a shared client is refused in words, and does not close it."""
    with pytest.raises(RuntimeError, match=ALREADY_OPEN):
        async with client:
            pass  # pragma: no cover - never entered
    with pytest.raises(RuntimeError, match=ALREADY_OPEN):
        await client.open()
    assert not client.closed
    assert len([j async for j in client.list_import_jobs(kb)]) == 250


async def test_a_closed_client_is_not_opened_again(qconnect_server: QConnectServer) -> None:
    """A client whose `async with` ended stays closed: opening it again says to make a new one."""
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
    async with client:
        pass
    with pytest.raises(RuntimeError, match=r"^this QConnectClient is closed; create a new one$"):
        await client.open()


async def test_a_wrapped_client_is_entered_once(qconnect_server: QConnectServer, kb: str) -> None:
    """from_client: one `async with` (its owner's); a nested one is refused, does not close."""
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "qconnect",
        endpoint_url=qconnect_server.endpoint_url,
        config=AioConfig(retries={"total_max_attempts": 1}),
    ) as raw:
        async with QConnectClient.from_client(raw) as client:
            with pytest.raises(RuntimeError, match="already open"):
                async with client:
                    pass  # pragma: no cover - never entered
            assert not client.closed
            assert len([j async for j in client.list_import_jobs(kb)]) == 250
        assert client.closed


NO_JOB = "00000000-0000-0000-0000-000000000000"
OPEN_FIRST = r"^open the client first: `async with QConnectClient\(\.\.\.\) as c:`$"


async def test_a_call_while_the_client_opens_says_to_open_it_first(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """Before open() and while it awaits (its models load in a thread), a call is refused in
    the same words: open the client first; once open, it lists."""
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
    with pytest.raises(RuntimeError, match=OPEN_FIRST):
        await client.get_import_job(kb, NO_JOB)
    opening = asyncio.create_task(client.open())
    await asyncio.sleep(0)  # the open has started and awaits its thread
    assert not opening.done()
    with pytest.raises(RuntimeError, match=OPEN_FIRST):
        await client.get_import_job(kb, NO_JOB)
    await opening
    try:
        assert len([j async for j in client.list_import_jobs(kb)]) == 250
    finally:
        await client.close()


async def test_an_open_cancelled_midway_leaves_the_client_to_open_again(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """open() cancelled while it awaits leaves the client unopened, not half open: a call says
    to open it first, and a second open() opens it."""
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
    opening = asyncio.create_task(client.open())
    await asyncio.sleep(0)
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    with pytest.raises(RuntimeError, match=OPEN_FIRST):
        await client.get_import_job(kb, NO_JOB)
    async with client:
        assert len([j async for j in client.list_import_jobs(kb)]) == 250


async def test_a_client_given_a_session_sends_with_that_session_s_credentials(
    qconnect_server: QConnectServer,
) -> None:
    """session=: the client signs with the session's credentials (the environment's are of
    another account), so it lists the KB of the session's account."""
    account = "222222222222"
    qconnect_server.set_account("AKIDSESSIONACCOUNT", account)
    kb = qconnect_server.create_knowledge_base("kb", account=account)
    qconnect_server.add_import_jobs(kb, 3, account=account)
    session = aiobotocore.session.AioSession()
    session.set_credentials("AKIDSESSIONACCOUNT", "secret")
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, session=session) as c:
        assert len([j async for j in c.list_import_jobs(kb)]) == 3


# -- deadlines -----------------------------------------------------------------------------------


async def test_a_deadline_bounds_one_listing(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """deadline= on list_import_jobs: DeadlineExceededError, a TransportError and a TimeoutError."""
    # A warm client (connection and credentials ready) sends at once; a server that holds
    # every answer for a minute is one the deadline surely meets, however busy the machine.
    assert len([job async for job in client.list_import_jobs(kb)]) == 250
    qconnect_server.reset_stats()
    qconnect_server.set_latency(60)
    with pytest.raises(DeadlineExceededError) as info:
        async for _ in client.list_import_jobs(kb, deadline=1.0):
            pass
    assert isinstance(info.value, TransportError) and isinstance(info.value, TimeoutError)
    assert info.value.knowledge_base_id == kb
    assert info.value.operation == "ListImportJobs"
    assert info.value.message == "the deadline passed before this request completed"
    assert requests(qconnect_server) == 1
    qconnect_server.clear_faults()  # the held request is answered now
    await drained(qconnect_server)


async def test_a_deadline_bounds_the_whole_fan_out(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """deadline= on _many bounds all KBs together: each is quick, all together are not."""
    kbs = seed(qconnect_server, 4, 5)
    qconnect_server.set_latency(0.2)
    with pytest.raises(DeadlineExceededError):
        async with client.list_import_jobs_many(kbs, max_concurrency=1, deadline=0.5) as jobs:
            async for _ in jobs:
                pass
    await drained(qconnect_server)


async def test_the_policy_deadline_bounds_the_whole_fan_out_too(
    qconnect_server: QConnectServer,
) -> None:
    """RetryPolicy.deadline is the default deadline of each listing, a whole _many included."""
    kbs = seed(qconnect_server, 4, 5)
    qconnect_server.set_latency(0.2)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, retry=RetryPolicy(deadline=0.5)
    ) as client:
        with pytest.raises(DeadlineExceededError):
            async with client.list_import_jobs_many(kbs, max_concurrency=1) as jobs:
                async for _ in jobs:
                    pass
    await drained(qconnect_server)


async def test_a_deadline_passed_ends_the_fan_out_without_fail_fast(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Without fail_fast the deadline still ends the stream itself, not a group per KB."""
    kbs = seed(qconnect_server, 4, 5)
    qconnect_server.set_latency(0.2)
    with pytest.raises(DeadlineExceededError):
        async with client.list_import_jobs_many(
            kbs, max_concurrency=1, fail_fast=False, deadline=0.3
        ) as jobs:
            async for _ in jobs:
                pass
    await drained(qconnect_server)


async def test_a_deadline_bounds_list_all_with_its_knowledge_base_listing(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """deadline= on list_all_import_jobs spans the KB listing and the jobs' listing: each
    request is quicker than the deadline, the two together are not."""
    seed(qconnect_server, 1, 5)
    # Once unbounded first: the server's first ListKnowledgeBases may be slow (moto warming up).
    assert len([job async for job in client.list_all_import_jobs()]) == 5
    qconnect_server.reset_stats()
    qconnect_server.set_latency(0.3)
    with pytest.raises(DeadlineExceededError) as info:
        async with client.list_all_import_jobs(deadline=0.5) as jobs:
            async for _ in jobs:
                pass  # pragma: no cover - the deadline passes during the first jobs page
    assert info.value.operation == "ListImportJobs"
    assert requests(qconnect_server, "ListKnowledgeBases") == 1
    assert requests(qconnect_server) == 1
    await drained(qconnect_server)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), "5", True])
def test_bad_deadlines_are_refused_at_the_call(client: QConnectClient, value: object) -> None:
    """deadline must be a positive, finite number of seconds."""
    with pytest.raises(ValidationError, match="deadline"):
        client.list_import_jobs(
            "00000000-0000-0000-0000-000000000000",
            deadline=value,  # type: ignore[arg-type]
        )


# -- a body cut short ----------------------------------------------------------------------------


async def test_a_body_cut_short_is_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A 200 cut mid-document (no Content-Length, connection closed) is transient: retried."""
    qconnect_server.malformed(kind="cut_body", times=2)
    assert len([j async for j in client.list_import_jobs(kb)]) == 250
    assert requests(qconnect_server) == 3 + 2


async def test_a_complete_but_invalid_body_is_not_retried(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """The same bytes with their Content-Length are what the server sent: malformed, final."""
    qconnect_server.malformed(kind="invalid_json", times=None)
    with pytest.raises(MalformedResponseError):
        async for _ in client.list_import_jobs(kb):
            pass
    assert requests(qconnect_server) == 1


@pytest.mark.parametrize(("kind", "error"), [("cut_body", False), ("invalid_json", True)])
async def test_a_job_read_cut_short_is_retried_a_wrong_one_is_not(
    client: QConnectClient, qconnect_server: QConnectServer, kind: str, error: bool
) -> None:
    """GetImportJob (what wait_for_import_job polls) tells a cut body from a wrong one too."""
    qconnect_server.set_job_completion(after_reads=0)
    kb = qconnect_server.create_knowledge_base("imports")
    job = await client.start_import_job(kb, b"Name,Content\nhello,Hi\n")
    qconnect_server.malformed("GetImportJob", kind=kind, times=1)  # type: ignore[arg-type]
    if error:
        with pytest.raises(MalformedResponseError):
            await client.get_import_job(kb, job.import_job_id)
        assert requests(qconnect_server, "GetImportJob") == 1
    else:
        got = await client.get_import_job(kb, job.import_job_id)
        assert got.import_job_id == job.import_job_id
        assert requests(qconnect_server, "GetImportJob") == 2


# -- ARNs of another Region or partition ---------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:wisdom:eu-west-1:123456789012:knowledge-base/{kb}",
        "arn:aws-cn:wisdom:us-east-1:123456789012:knowledge-base/{kb}",
    ],
)
async def test_an_arn_of_another_region_or_partition_is_refused(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, arn: str
) -> None:
    """The ARN names a KB the client's Region cannot list: ValidationError, nothing sent."""
    with pytest.raises(ValidationError, match=r"Region|partition"):
        client.list_import_jobs(arn.format(kb=kb))
    with pytest.raises(ValidationError, match=r"Region|partition"):
        client.list_import_jobs_many([kb, arn.format(kb=kb)])
    assert requests(qconnect_server) == 0
    # The client's own Region's ARN is fine.
    own = qconnect_server.knowledge_base_arn(kb)
    assert len([j async for j in client.list_import_jobs(own)]) == 250


async def test_an_arn_is_checked_when_the_client_opens_after_the_call(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """A pager made before open() checks its ARN once the client knows its Region."""
    client = QConnectClient(endpoint_url=qconnect_server.endpoint_url)
    pager = client.list_import_jobs(f"arn:aws:wisdom:eu-west-1:123456789012:knowledge-base/{kb}")
    async with client:
        with pytest.raises(ValidationError, match="Region"):
            async for _ in pager:
                pass
    assert requests(qconnect_server) == 0


# -- refused connections -------------------------------------------------------------------------


def refused_endpoint() -> str:
    """A loopback URL whose port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("policy", "attempts"), [(None, 4), (2, 2)])
async def test_a_refused_connection_fails_after_a_few_attempts(
    policy: int | None, attempts: int, kb: str
) -> None:
    """Connection refused: max_connect_attempts (4 by default) tries, then TransportError."""
    retries: list[RetryDetails] = []
    extra = {} if policy is None else {"max_connect_attempts": policy}
    async with QConnectClient(
        endpoint_url=refused_endpoint(), retry=RetryPolicy(on_retry=retries.append, **extra)
    ) as client:
        with pytest.raises(TransportError) as info:
            async for _ in client.list_import_jobs(kb):
                pass
    assert info.value.code == "EndpointConnectionError"
    assert len(retries) == attempts - 1


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """A loopback URL that never answers a connection: its one-place accept queue is full,
    so the kernel drops every further SYN (as a firewall that drops packets does)."""
    with socket.socket() as server, socket.socket() as filler:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        filler.connect(server.getsockname())
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


async def test_a_silent_endpoint_gets_the_connect_attempts_not_all_attempts(kb: str) -> None:
    """No answer within connect_timeout is a connect failure: max_connect_attempts tries."""
    retries: list[RetryDetails] = []
    with silent_endpoint() as url:
        async with QConnectClient(
            endpoint_url=url, connect_timeout=0.2, retry=RetryPolicy(on_retry=retries.append)
        ) as client:
            with pytest.raises(TransportError) as info:
                async for _ in client.list_import_jobs(kb):
                    pass
    assert info.value.code == "ConnectTimeoutError"
    assert len(retries) == 3


async def test_a_refused_connection_fails_within_seconds_with_real_backoff(kb: str) -> None:
    """With real backoff waits and the default policy: a TransportError well within 5 s."""
    retries: list[RetryDetails] = []
    loop = asyncio.get_running_loop()
    with set_testing(False):
        async with QConnectClient(
            endpoint_url=refused_endpoint(), retry=RetryPolicy(on_retry=retries.append)
        ) as client:
            started = loop.time()
            with pytest.raises(TransportError, match="connect"):
                async for _ in client.list_import_jobs(kb):
                    pass
            elapsed = loop.time() - started
    assert len(retries) == 3
    assert elapsed < 5.0

"""Many knowledge bases at once over real HTTP: merging, bounds, failures, cancellation."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from qconnect_async import (
    AccessDeniedError,
    DeadlineExceededError,
    KnowledgeBase,
    KnowledgeBaseType,
    QConnectClient,
    ResourceNotFoundError,
    SendOutcome,
    ValidationError,
)
from qconnect_async.testing import QConnectServer, set_testing


@pytest.fixture
async def client(qconnect_server: QConnectServer) -> AsyncIterator[QConnectClient]:
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, max_concurrency=4) as c:
        yield c


def seed(server: QConnectServer, counts: list[int]) -> dict[str, set[str]]:
    """KBs with the given numbers of jobs: {kb_id: {job ids}}."""
    out = {}
    for i, count in enumerate(counts):
        kb = server.create_knowledge_base(f"kb-{i}")
        out[kb] = set(server.add_import_jobs(kb, count))
    return out


async def drained(server: QConnectServer) -> int:
    """The server's in-flight count once its threads finish what was cut off (2 s at most)."""
    for _ in range(200):
        if server.stats.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    return server.stats.in_flight


async def test_merges_every_job_of_every_kb_once(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Jobs of all KBs arrive, each exactly once."""
    kbs = seed(qconnect_server, [0, 5, 30, 21, 40, 7])
    jobs = [j async for j in client.list_import_jobs_many(list(kbs), page_size=10)]
    assert sorted(j.import_job_id for j in jobs) == sorted(set().union(*kbs.values()))
    for job in jobs:
        assert job.import_job_id in kbs[job.knowledge_base_id]


async def test_duplicates_are_listed_once(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """The same KB given twice, by ID and by ARN, is listed once."""
    kbs = seed(qconnect_server, [25])
    [kb] = kbs
    arn = qconnect_server.knowledge_base_arn(kb)
    jobs = [j async for j in client.list_import_jobs_many([kb, arn, kb], page_size=10)]
    assert len(jobs) == 25
    assert qconnect_server.stats.requests["ListImportJobs"] == 3


async def test_at_most_max_concurrency_kbs_at_once(qconnect_server: QConnectServer) -> None:
    """The server never sees more than the fan-out width in flight."""
    kbs = seed(qconnect_server, [20] * 12)
    qconnect_server.set_latency(0.05)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        jobs = [
            j
            async for j in client.list_import_jobs_many(list(kbs), max_concurrency=3, page_size=10)
        ]
    assert len(jobs) == 240
    assert qconnect_server.stats.max_in_flight == 3


async def test_client_bound_holds_across_listings(qconnect_server: QConnectServer) -> None:
    """Two fan-outs and a single listing together stay within the client's max_concurrency."""
    kbs = list(seed(qconnect_server, [20] * 8))
    qconnect_server.set_latency(0.05)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, max_concurrency=3) as c:

        async def many(ids: list[str]) -> int:
            return len([j async for j in c.list_import_jobs_many(ids, page_size=10)])

        async def one(kb: str) -> int:
            return len([j async for j in c.list_import_jobs(kb, page_size=10)])

        counts = await asyncio.gather(many(kbs[:4]), many(kbs[4:7]), one(kbs[7]))
    assert counts == [80, 60, 20]
    assert qconnect_server.stats.max_in_flight == 3


async def test_fail_fast_raises_the_typed_error_and_cancels_the_rest(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """One denied KB: its AccessDeniedError itself (not a group), nothing left running."""
    kbs = list(seed(qconnect_server, [30] * 6))
    denied = kbs[2]
    qconnect_server.fail(
        code="AccessDeniedException", status=403, times=None, knowledge_base_id=denied
    )
    before = asyncio.all_tasks()
    with pytest.raises(AccessDeniedError) as info:
        async for _ in client.list_import_jobs_many(kbs, page_size=10):
            pass
    assert info.value.knowledge_base_id == denied
    assert asyncio.all_tasks() == before
    assert await drained(qconnect_server) == 0


async def test_without_fail_fast_every_other_kb_is_listed(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """fail_fast=False lists all it can, then raises an ExceptionGroup of per-KB errors."""
    kbs = seed(qconnect_server, [30] * 5)
    ids = list(kbs)
    missing = "00000000-0000-0000-0000-000000000000"
    denied = ids[1]
    qconnect_server.fail(
        code="AccessDeniedException", status=403, times=None, knowledge_base_id=denied
    )
    got: list[str] = []
    with pytest.raises(ExceptionGroup) as info:
        async for job in client.list_import_jobs_many(
            [*ids, missing], fail_fast=False, page_size=10
        ):
            got.append(job.import_job_id)
    expected = set().union(*(kbs[k] for k in ids if k != denied))
    assert sorted(got) == sorted(expected)
    errors = {e.knowledge_base_id: type(e) for e in info.value.exceptions}  # type: ignore[attr-defined]
    assert errors == {denied: AccessDeniedError, missing: ResourceNotFoundError}


async def test_slow_consumer_bounds_read_ahead(qconnect_server: QConnectServer) -> None:
    """A consumer that stops reading stops the producers after about width pages."""
    kbs = list(seed(qconnect_server, [50] * 10))
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        stream = client.list_import_jobs_many(kbs, max_concurrency=3, page_size=10)
        await anext(stream)
        await asyncio.sleep(0.3)  # room for runaway producers to show themselves
        sent = qconnect_server.stats.requests["ListImportJobs"]
        assert sent <= 1 + 3  # the page being read, plus one page per credit
        count = 1 + len([j async for j in stream])
    assert count == 500


async def test_cancel_mid_stream_ends_every_request(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Cancelling the consumer cancels all producers at once; the client stays usable."""
    kbs = list(seed(qconnect_server, [30] * 8))
    qconnect_server.set_latency(0.5)
    before = asyncio.all_tasks()
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in client.list_import_jobs_many(kbs, page_size=10):
            first.set()

    task = asyncio.create_task(consume())
    for _ in range(200):
        if qconnect_server.stats.in_flight >= 4:
            break
        await asyncio.sleep(0.01)
    assert qconnect_server.stats.in_flight == 4
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not first.is_set()
    assert asyncio.all_tasks() == before - {task}
    qconnect_server.set_latency(0)
    assert len([j async for j in client.list_import_jobs_many(kbs, page_size=10)]) == 240


async def test_break_mid_stream_leaves_no_task(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """break inside `async with` ends every producer before the block is left."""
    kbs = list(seed(qconnect_server, [30] * 8))
    before = asyncio.all_tasks()
    async with client.list_import_jobs_many(kbs, page_size=10) as jobs:
        async for _ in jobs:
            break
    assert asyncio.all_tasks() == before


async def test_random_faults_lose_and_duplicate_nothing(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """With 20% of requests throttled or failing with 5xx, every job arrives exactly once."""
    kbs = seed(qconnect_server, [45] * 6)
    qconnect_server.random_faults(0.2, seed=7)
    jobs = [j.import_job_id async for j in client.list_import_jobs_many(list(kbs), page_size=10)]
    assert sorted(jobs) == sorted(set().union(*kbs.values()))
    assert qconnect_server.stats.faults > 0


async def test_rate_limited_service_does_not_fail_the_listing(
    qconnect_server: QConnectServer,
) -> None:
    """Under a service rate limit every job is listed; the client's limiter turned on."""
    kbs = seed(qconnect_server, [30] * 8)
    qconnect_server.set_rate_limit(60, burst=3)
    # This one needs the pacing: with no waits at all, retries would outrun the limit.
    with set_testing(False):
        async with QConnectClient(
            endpoint_url=qconnect_server.endpoint_url, max_concurrency=8
        ) as c:
            jobs = [j async for j in c.list_import_jobs_many(list(kbs), page_size=10)]
            assert c._ops.sender.limiter.enabled
    assert len(jobs) == 240
    assert qconnect_server.stats.throttled > 0


async def test_list_knowledge_bases_is_typed_and_paged(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Every KB of the account comes back as KnowledgeBase, across pages."""
    kbs = seed(qconnect_server, [0] * 7)
    found = [kb async for kb in client.list_knowledge_bases(page_size=3)]
    assert all(isinstance(kb, KnowledgeBase) for kb in found)
    assert sorted(kb.knowledge_base_id for kb in found) == sorted(kbs)
    assert qconnect_server.stats.requests["ListKnowledgeBases"] == 3


async def test_list_all_import_jobs_covers_every_kb(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """list_all_import_jobs lists every job of every KB of the account."""
    kbs = seed(qconnect_server, [3, 0, 12, 25])
    jobs = [j.import_job_id async for j in client.list_all_import_jobs(page_size=10)]
    assert sorted(jobs) == sorted(set().union(*kbs.values()))


async def test_list_all_import_jobs_lists_quick_responses_kbs_only_by_default(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Only QUICK_RESPONSES KBs are listed by default: no request for a KB of another type;
    other types, an unknown one too, are listed when asked, every type with None."""
    quick = seed(qconnect_server, [4])
    custom = qconnect_server.create_knowledge_base("custom", knowledge_base_type="CUSTOM")
    qconnect_server.create_knowledge_base("new", knowledge_base_type="VIDEOS")
    qconnect_server.fail(
        code="AccessDeniedException", status=403, times=None, knowledge_base_id=custom
    )
    jobs = [j async for j in client.list_all_import_jobs()]
    assert sorted(j.import_job_id for j in jobs) == sorted(set().union(*quick.values()))
    assert qconnect_server.stats.requests["ListImportJobs"] == 1
    qconnect_server.reset_stats()
    asked = client.list_all_import_jobs(
        knowledge_base_types=["VIDEOS", KnowledgeBaseType.QUICK_RESPONSES]
    )
    assert len([j async for j in asked]) == 4
    assert qconnect_server.stats.requests["ListImportJobs"] == 2  # the new type's KB too
    with pytest.raises(AccessDeniedError) as info:
        async for _ in client.list_all_import_jobs(knowledge_base_types=None):
            pass
    assert info.value.knowledge_base_id == custom


@pytest.mark.parametrize("types", ["QUICK_RESPONSES", [], [""], 7])
def test_knowledge_base_types_are_checked_before_any_request(
    client: QConnectClient, types: object
) -> None:
    """One string, an empty collection or an empty type is a ValidationError at the call."""
    with pytest.raises(ValidationError, match=r"knowledge base type|knowledge_base_types"):
        client.list_all_import_jobs(knowledge_base_types=types)  # type: ignore[arg-type]


async def test_no_kbs_is_an_empty_stream(client: QConnectClient) -> None:
    """An empty list of KBs yields nothing and sends nothing."""
    assert [j async for j in client.list_import_jobs_many([])] == []


async def test_on_listing_done_reports_each_kb(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """The progress hook hears of every KB as its listing ends, with its error if any."""
    kbs = list(seed(qconnect_server, [12, 0, 31]))
    qconnect_server.fail(
        code="AccessDeniedException", status=403, times=None, knowledge_base_id=kbs[1]
    )
    done: dict[str, str | None] = {}
    with pytest.raises(ExceptionGroup):
        async for _ in client.list_import_jobs_many(
            kbs,
            fail_fast=False,
            page_size=10,
            on_listing_done=lambda kb, err: done.__setitem__(kb, err and err.code),
        ):
            pass
    assert done == {kbs[0]: None, kbs[1]: "AccessDeniedException", kbs[2]: None}


async def test_cancelled_anyio_scope_ends_the_stream(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Under a cancelled anyio scope (Starlette's streaming) the stream ends, no spinning."""
    import anyio

    kbs = list(seed(qconnect_server, [30] * 6))
    qconnect_server.set_latency(0.05)
    before = asyncio.all_tasks()

    async def consume() -> int:
        seen = 0
        with anyio.CancelScope() as scope:
            async with client.list_import_jobs_many(kbs, page_size=10) as jobs:
                async for _ in jobs:
                    seen += 1
                    scope.cancel()
        return seen

    task = asyncio.create_task(consume())
    done, _ = await asyncio.wait({task}, timeout=10)
    assert done, "the stream did not end under a cancelled scope"
    # Cancellation lands at the next real suspension: pages already queued may still be read.
    assert 10 <= task.result() < 180 and task.result() % 10 == 0
    assert asyncio.all_tasks() == before


class SlowToLetGo:
    """A RateLimiter that lets ``sends`` requests go, holds the others, and once cancelled
    takes several loop turns to clean up before it gives up (as a Redis round trip does)."""

    def __init__(self, sends: int, cleanup_turns: int) -> None:
        self.left = sends
        self.cleanup_turns = cleanup_turns
        self.cancelled = 0
        self.cleaned = 0
        self.cancelling = asyncio.Event()  # set once a held send is cancelled
        self._never = asyncio.Event()

    async def acquire(self) -> None:
        if self.left > 0:
            self.left -= 1
            return
        try:
            await self._never.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            self.cancelling.set()
            for _ in range(self.cleanup_turns):
                await asyncio.sleep(0)
            self.cleaned += 1
            raise

    def release(self, permit: None, outcome: SendOutcome) -> None:
        pass

    @property
    def rate(self) -> float:
        return math.inf


async def test_a_cancelled_scope_waits_for_a_limiter_that_cleans_up(
    qconnect_server: QConnectServer,
) -> None:
    """Under a cancelled anyio scope, whose cancellation comes back at every await, the stream
    still waits for every producer, even one whose limiter awaits as it gives up: none is left
    running, and the scope's cancellation ends the block quietly."""
    import anyio

    kbs = list(seed(qconnect_server, [30] * 6))
    limiter = SlowToLetGo(sends=1, cleanup_turns=20)
    before = asyncio.all_tasks()
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, max_concurrency=4, rate_limiter=limiter
    ) as client:
        seen = 0
        with anyio.CancelScope() as scope:
            async with client.list_import_jobs_many(kbs, page_size=10) as jobs:
                async for _ in jobs:
                    seen += 1
                    scope.cancel()
        assert scope.cancelled_caught
        assert seen == 10  # the one page let through, then the cancellation landed
        # Every producer held by the limiter was cancelled, and each cleaned up to the end.
        assert limiter.cancelled == 4  # max_concurrency producers, each waiting for a send
        assert limiter.cleaned == limiter.cancelled
        assert asyncio.all_tasks() == before


async def test_a_cancellation_while_the_stream_closes_is_not_lost(
    qconnect_server: QConnectServer,
) -> None:
    """Cancelled while leaving the stream (its producers still cleaning up), the task still
    ends cancelled, and only once every producer has ended."""
    kbs = list(seed(qconnect_server, [30] * 6))
    limiter = SlowToLetGo(sends=1, cleanup_turns=20)
    before = asyncio.all_tasks()
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, max_concurrency=4, rate_limiter=limiter
    ) as client:

        async def consume() -> str:
            async with client.list_import_jobs_many(kbs, page_size=10) as jobs:
                async for _ in jobs:
                    break
            return "went on"

        task = asyncio.create_task(consume())
        await limiter.cancelling.wait()  # the stream is closing: its producers are cancelled
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Every producer held by the limiter cleaned up to the end before the task ended.
        assert limiter.cancelled > 0 and limiter.cleaned == limiter.cancelled
        assert asyncio.all_tasks() == before


async def test_a_stream_says_what_it_lists(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """The repr of a stream names what it lists (nothing is requested to say so)."""
    kbs = list(seed(qconnect_server, [0, 0]))
    assert repr(client.list_import_jobs_many(kbs)) == ("<Listing import jobs of 2 knowledge bases>")
    assert repr(client.list_all_import_jobs()) == ("<Listing import jobs of every knowledge base>")
    assert repr(client.list_knowledge_bases()) == "<Listing knowledge bases>"


async def test_the_pool_is_never_the_hidden_limit(qconnect_server: QConnectServer) -> None:
    """A client's connection pool is at least its max_concurrency (aiobotocore's is 10)."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, max_concurrency=32) as c:
        assert c._ops.transport is not None
        assert c._ops.transport.max_pool_connections >= 32


async def test_list_all_lists_the_kbs_a_hundred_a_page_and_jobs_at_the_page_size_asked(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """With the service's default page at 2: the account's KBs in one page of 100, each KB's
    jobs at page_size=10; the progress hook hears of every KB."""
    qconnect_server.set_default_page_size(2)
    kbs = list(seed(qconnect_server, [5, 5, 5]))
    qconnect_server.reset_stats()
    done: dict[str, str | None] = {}
    jobs = [
        job
        async for job in client.list_all_import_jobs(
            page_size=10, on_listing_done=lambda kb, err: done.__setitem__(kb, err and err.code)
        )
    ]
    assert len(jobs) == 15
    assert dict(qconnect_server.stats.requests) == {"ListKnowledgeBases": 1, "ListImportJobs": 3}
    assert done == dict.fromkeys(kbs)


async def test_list_all_s_deadline_bounds_the_listing_of_the_kbs(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """deadline= covers the listing of the account's KBs: a slow ListKnowledgeBases ends in
    DeadlineExceededError naming it."""
    seed(qconnect_server, [1])
    qconnect_server.set_latency(5.0, "ListKnowledgeBases")
    with pytest.raises(DeadlineExceededError) as info:
        async for _ in client.list_all_import_jobs(deadline=0.3):
            pass
    assert info.value.operation == "ListKnowledgeBases"


class RecordsPriorities:
    """A RateLimiter that lets every send go and records the priority each was asked with."""

    rate = math.inf

    def __init__(self) -> None:
        self.priorities: list[int] = []

    async def acquire(self, *, priority: int = 0) -> None:
        self.priorities.append(priority)

    def release(self, permit: None, outcome: SendOutcome) -> None:
        pass


async def test_many_kb_listings_are_bulk_by_default_and_interactive_when_asked(
    qconnect_server: QConnectServer,
) -> None:
    """Every request of list_import_jobs_many and list_all_import_jobs (its ListKnowledgeBases
    too) reaches the limiter as bulk (1) by default, as interactive (0) with
    priority="interactive"."""
    kbs = list(seed(qconnect_server, [3, 3, 3]))
    limiter = RecordsPriorities()
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, max_concurrency=4, rate_limiter=limiter
    ) as client:
        listings = {
            "many, bulk": client.list_import_jobs_many(kbs, page_size=2),
            "many, interactive": client.list_import_jobs_many(
                kbs, page_size=2, priority="interactive"
            ),
            "all, bulk": client.list_all_import_jobs(page_size=2),
            "all, interactive": client.list_all_import_jobs(page_size=2, priority="interactive"),
        }
        asked = {}
        for name, listing in listings.items():
            limiter.priorities.clear()
            assert len([job async for job in listing]) == 9
            asked[name] = limiter.priorities.copy()
    assert asked == {
        "many, bulk": [1] * 6,  # two pages of each of the three KBs
        "many, interactive": [0] * 6,
        "all, bulk": [1] * 7,  # and the one page of the account's KBs
        "all, interactive": [0] * 7,
    }

"""Listing[T], every listing's one shape: items, pages with resume, aclose, async with; and
the loop guard of one listing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from qconnect_async import (
    DeadlineExceededError,
    ImportJobPage,
    KnowledgeBasePage,
    Listing,
    PaginationLoopError,
    QConnectClient,
    ValidationError,
)
from qconnect_async.models import KnowledgeBasePage as ModelsKnowledgeBasePage
from qconnect_async.testing import QConnectServer

#: Every listing of a client, on KBs seeded by ``kbs``.
LISTINGS: dict[str, Callable[[QConnectClient, list[str]], Listing[object]]] = {
    "list_import_jobs": lambda c, kbs: c.list_import_jobs(kbs[0], page_size=10),
    "list_import_jobs_many": lambda c, kbs: c.list_import_jobs_many(kbs, page_size=10),
    "list_all_import_jobs": lambda c, kbs: c.list_all_import_jobs(page_size=10),
    "list_knowledge_bases": lambda c, kbs: c.list_knowledge_bases(page_size=1),
}


@pytest.fixture
def kbs(qconnect_server: QConnectServer) -> list[str]:
    ids = [qconnect_server.create_knowledge_base(f"kb-{i}") for i in range(3)]
    for kb in ids:
        qconnect_server.add_import_jobs(kb, 25)
    return ids


def expected_items(name: str) -> int:
    return 3 if name == "list_knowledge_bases" else 25 if name == "list_import_jobs" else 75


@pytest.mark.parametrize("name", LISTINGS)
async def test_every_listing_is_a_listing_of_items(
    client: QConnectClient, kbs: list[str], name: str
) -> None:
    """Every listing method returns a Listing whose `async for` yields every item once."""
    listing = LISTINGS[name](client, kbs)
    assert isinstance(listing, Listing)
    items = [item async for item in listing]
    assert len(items) == expected_items(name)


@pytest.mark.parametrize("name", LISTINGS)
async def test_every_listing_has_pages_with_tokens(
    client: QConnectClient, kbs: list[str], name: str
) -> None:
    """pages() yields the listing's pages; each carries next_token, None on a KB's last."""
    async with LISTINGS[name](client, kbs) as listing:
        pages = [page async for page in listing.pages()]
    assert sum(len(page.items) for page in pages) == expected_items(name)
    ends = [page for page in pages if page.next_token is None]
    assert len(ends) == (1 if name in ("list_import_jobs", "list_knowledge_bases") else 3)
    kinds = {type(page) for page in pages}
    assert kinds == ({KnowledgeBasePage} if name == "list_knowledge_bases" else {ImportJobPage})


@pytest.mark.parametrize("name", ["list_import_jobs", "list_knowledge_bases"])
async def test_a_listing_resumes_from_any_pages_token(
    client: QConnectClient, kbs: list[str], name: str
) -> None:
    """pages(starting_token=) starts from a page's next_token: the rest, nothing twice."""
    whole = [item async for item in LISTINGS[name](client, kbs)]
    first = await anext(LISTINGS[name](client, kbs).pages())
    assert first.next_token is not None
    async with LISTINGS[name](client, kbs) as listing:
        rest = [
            item
            for page in [p async for p in listing.pages(first.next_token)]
            for item in page.items
        ]
    assert [*first.items, *rest] == whole


async def test_import_job_pages_carry_their_knowledge_base(
    client: QConnectClient, kbs: list[str]
) -> None:
    """A merged listing's pages say which KB each one is of."""
    async with client.list_import_jobs_many(kbs, page_size=10) as listing:
        pages = [page async for page in listing.pages()]
    for page in pages:
        assert {job.knowledge_base_id for job in page.items} <= {page.knowledge_base_id}
    assert {page.knowledge_base_id for page in pages} == set(kbs)


@pytest.mark.parametrize("name", ["list_import_jobs_many", "list_all_import_jobs"])
async def test_a_merged_listing_cannot_start_from_one_token(
    client: QConnectClient, kbs: list[str], name: str
) -> None:
    """Many KBs interleave their tokens: pages(token) of a merged listing is refused."""
    with pytest.raises(
        ValidationError, match=r": the import jobs of .+ cannot start from one token$"
    ):
        LISTINGS[name](client, kbs).pages("token")


@pytest.mark.parametrize("name", LISTINGS)
async def test_a_break_inside_async_with_leaves_no_task(
    client: QConnectClient, kbs: list[str], name: str
) -> None:
    """Leaving `async with listing` after a break ends every request and task of it."""
    before = asyncio.all_tasks()
    async with LISTINGS[name](client, kbs) as listing:
        async for _ in listing:
            break
    assert asyncio.all_tasks() == before
    async with LISTINGS[name](client, kbs) as listing:
        async for _ in listing.pages():
            break
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize("name", LISTINGS)
async def test_aclose_ends_the_listing_and_it_yields_no_more(
    client: QConnectClient, kbs: list[str], name: str
) -> None:
    """aclose() mid-listing ends its work at once; iterating after it yields nothing."""
    before = asyncio.all_tasks()
    listing = LISTINGS[name](client, kbs)
    await anext(listing)
    await listing.aclose()
    assert asyncio.all_tasks() == before
    assert [item async for item in listing] == []


@pytest.mark.parametrize("name", LISTINGS)
async def test_a_listing_runs_once(client: QConnectClient, kbs: list[str], name: str) -> None:
    """A second `async for` goes on where the first stopped; pages() after items is refused."""
    listing = LISTINGS[name](client, kbs)
    first = await anext(listing)
    rest = [item async for item in listing]
    assert first not in rest and len(rest) == expected_items(name) - 1
    assert [item async for item in listing] == []
    with pytest.raises(RuntimeError, match="started"):
        listing.pages()


def test_knowledge_base_pages_are_a_public_model() -> None:
    """KnowledgeBasePage is the models' class, exported from the package."""
    assert KnowledgeBasePage is ModelsKnowledgeBasePage


class _CyclingTransport:
    """A Transport of our own whose ListImportJobs tokens follow a script (no HTTP)."""

    def __init__(self, tokens: dict[str | None, str | None]) -> None:
        self.tokens = tokens
        self.asked: list[str | None] = []

    max_pool_connections = 10
    region_name = "us-east-1"
    partition = "aws"

    async def close(self) -> None:
        pass

    clock_offset = 0.0

    async def send(self, call: object, params: Mapping[str, Any]) -> Mapping[str, Any]:
        token = params.get("nextToken")
        self.asked.append(token)
        if len(self.asked) > 10:
            raise AssertionError("the listing kept following a cycle")
        return {"importJobSummaries": [], "nextToken": self.tokens[token]}


KB = "aaaaaaaa-bbbb-cccc-dddd-000000000001"


async def test_a_listing_closed_before_it_started_requests_nothing_and_yields_nothing() -> None:
    """aclose() on a listing never iterated ends it quietly: no request, no item after."""
    transport = _CyclingTransport({None: None})
    async with QConnectClient._with_transport(transport) as client:  # type: ignore[arg-type]
        listing = client.list_import_jobs(KB)
        await listing.aclose()
        assert [job async for job in listing] == []
    assert transport.asked == []


async def test_a_token_that_comes_back_two_pages_later_is_a_loop() -> None:
    """Tokens cycling A -> B -> A raise PaginationLoopError, which a check of the last token
    alone (botocore's) misses; the error says to resume from B, the last new token, and
    names the client's Region."""
    transport = _CyclingTransport({None: "A", "A": "B", "B": "A"})
    async with QConnectClient._with_transport(transport) as client:  # type: ignore[arg-type]
        pages = 0
        with pytest.raises(PaginationLoopError) as info:
            async for _ in client.list_import_jobs(KB).pages():
                pages += 1
    assert transport.asked == [None, "A", "B"]
    assert pages == 2
    assert info.value.next_token == "B"
    assert (info.value.operation, info.value.knowledge_base_id) == ("ListImportJobs", KB)
    assert info.value.region == "us-east-1"
    assert info.value.message == "the service sent a token it had sent before, after 2 pages"


async def test_the_starting_token_counts_as_seen() -> None:
    """A listing resumed from A whose tokens lead back to A is a loop at once."""
    transport = _CyclingTransport({"A": "B", "B": "A"})
    async with QConnectClient._with_transport(transport) as client:  # type: ignore[arg-type]
        with pytest.raises(PaginationLoopError):
            async for _ in client.list_import_jobs(KB, starting_token="A"):
                pass
    assert transport.asked == ["A", "B"]


async def test_a_knowledge_base_listing_whose_token_loops_is_a_pagination_loop_error(
    client: QConnectClient, kbs: list[str], qconnect_server: QConnectServer
) -> None:
    """A ListKnowledgeBases token sent back: PaginationLoopError naming the operation, and
    resumable from the last token that brought new knowledge bases."""
    qconnect_server.repeat_token("ListKnowledgeBases")
    with pytest.raises(PaginationLoopError) as info:
        async for _ in client.list_knowledge_bases(page_size=1):
            pass
    assert info.value.operation == "ListKnowledgeBases"
    assert info.value.next_token is not None


async def test_a_knowledge_base_listing_resumed_from_a_token_that_comes_back_is_a_loop(
    client: QConnectClient, kbs: list[str], qconnect_server: QConnectServer
) -> None:
    """The starting token counts as seen: a first page that sends it back is a loop."""
    first = await anext(client.list_knowledge_bases(page_size=1).pages())
    assert first.next_token is not None
    qconnect_server.repeat_token("ListKnowledgeBases")
    resumed = client.list_knowledge_bases(page_size=1, starting_token=first.next_token)
    with pytest.raises(PaginationLoopError):
        await anext(resumed.pages())


async def test_a_knowledge_base_listing_ends_at_its_deadline(
    client: QConnectClient, kbs: list[str], qconnect_server: QConnectServer
) -> None:
    """deadline= bounds a ListKnowledgeBases listing: DeadlineExceededError, not the answer."""
    qconnect_server.set_latency(5.0, "ListKnowledgeBases")
    with pytest.raises(DeadlineExceededError) as info:
        async for _ in client.list_knowledge_bases(deadline=0.3):
            pass
    assert info.value.operation == "ListKnowledgeBases"

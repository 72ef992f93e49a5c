"""The loop guard of one listing, on scripted pages (a service whose tokens cycle)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest

from qconnect_async import PaginationLoopError
from qconnect_async._paginate import follow_pages


@dataclass(frozen=True)
class ScriptedPage:
    items: Sequence[int]
    next_token: str | None


Fetch = Callable[[str | None], Awaitable[ScriptedPage]]


def service(tokens: dict[str | None, str | None]) -> tuple[list[str | None], Fetch]:
    """A fetch answering each token with the next one of ``tokens``; and what it was asked."""
    asked: list[str | None] = []

    async def fetch(token: str | None) -> ScriptedPage:
        asked.append(token)
        if len(asked) > 10:
            raise AssertionError("the listing kept following a cycle")
        return ScriptedPage([len(asked)], tokens[token])

    return asked, fetch


async def test_a_token_that_comes_back_two_pages_later_is_a_loop() -> None:
    """Tokens cycling A -> B -> A raise PaginationLoopError, which a check of the last token
    alone (botocore's) misses; the error says to resume from B, the last new token."""
    asked, fetch = service({None: "A", "A": "B", "B": "A"})
    seen: list[int] = []
    with pytest.raises(PaginationLoopError) as info:
        async for page in follow_pages(fetch, starting_token=None, operation="ListImportJobs"):
            seen.extend(page.items)
    assert asked == [None, "A", "B"]
    assert seen == [1, 2]
    assert info.value.next_token == "B"
    assert info.value.operation == "ListImportJobs"
    assert info.value.message == "the service sent a token it had sent before, after 2 pages"


async def test_the_starting_token_counts_as_seen() -> None:
    """A listing resumed from A whose tokens lead back to A is a loop at once."""
    asked, fetch = service({"A": "B", "B": "A"})
    with pytest.raises(PaginationLoopError):
        async for _ in follow_pages(fetch, starting_token="A", operation="ListImportJobs"):
            pass
    assert asked == ["A", "B"]

"""The rate_limiter= seam over real HTTP: what a client asks and tells, sharing, testing mode."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

import qconnect_async
from qconnect_async import (
    AdaptiveRateLimiter,
    QConnectClient,
    RateLimiter,
    ResourceNotFoundError,
    SendOutcome,
)
from qconnect_async._config import is_testing
from qconnect_async._ratecontrol import RateController
from qconnect_async.testing import QConnectServer, set_testing

MISSING_KB = "00000000-0000-0000-0000-000000000000"


class Ledger:
    """A RateLimiter of our own: never waits, writes down every acquire and release."""

    def __init__(self) -> None:
        self.acquired = 0
        self.told: list[tuple[int, SendOutcome]] = []

    async def acquire(self) -> int:
        self.acquired += 1
        return self.acquired

    def release(self, permit: int, outcome: SendOutcome) -> None:
        self.told.append((permit, outcome))

    @property
    def rate(self) -> float:
        return math.inf


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 250)
    return kb_id


def make(server: QConnectServer, limiter: Any) -> QConnectClient:
    return QConnectClient(
        endpoint_url=server.endpoint_url, region_name="us-east-1", rate_limiter=limiter
    )


async def test_a_limiter_is_asked_before_and_told_after_every_attempt(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """Each attempt: one acquire, then one release of that permit with how it ended."""
    ledger = Ledger()
    qconnect_server.throttle("ListImportJobs", times=1)
    async with make(qconnect_server, ledger) as client:
        jobs = [j async for j in client.list_import_jobs(kb)]
        with pytest.raises(ResourceNotFoundError):
            async for _ in client.list_import_jobs(MISSING_KB):
                pass
    assert len(jobs) == 250
    assert ledger.told == [
        (1, SendOutcome.THROTTLED),
        (2, SendOutcome.ACCEPTED),
        (3, SendOutcome.ACCEPTED),
        (4, SendOutcome.ACCEPTED),
        (5, SendOutcome.ACCEPTED),  # a 404 is an answer: the service let the request in
    ]


async def test_one_limiter_may_be_shared_by_several_clients(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """Two clients given one limiter both send through it."""
    ledger = Ledger()
    async with make(qconnect_server, ledger) as a, make(qconnect_server, ledger) as b:
        assert a.rate_limiter is b.rate_limiter is ledger
        assert len([j async for j in a.list_import_jobs(kb)]) == 250
        assert len([j async for j in b.list_import_jobs(kb)]) == 250
    assert ledger.acquired == len(ledger.told) == 6


async def test_each_client_gets_its_own_adaptive_limiter_by_default(
    qconnect_server: QConnectServer,
) -> None:
    """Without rate_limiter= every client has a new AdaptiveRateLimiter."""
    async with make(qconnect_server, None) as a, make(qconnect_server, None) as b:
        assert isinstance(a.rate_limiter, AdaptiveRateLimiter)
        assert a.rate_limiter is not b.rate_limiter


async def test_a_borrowed_client_takes_a_rate_limiter(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """from_client(rate_limiter=...) sends through the given limiter too."""
    ledger = Ledger()
    async with (
        AioSession().create_client(
            "qconnect",
            region_name="us-east-1",
            endpoint_url=qconnect_server.endpoint_url,
            config=AioConfig(retries={"total_max_attempts": 1}),
        ) as raw,
        QConnectClient.from_client(raw, rate_limiter=ledger) as client,
    ):
        assert len([j async for j in client.list_import_jobs(kb)]) == 250
    assert [outcome for _, outcome in ledger.told] == [SendOutcome.ACCEPTED] * 3


def test_something_that_is_not_a_rate_limiter_is_refused() -> None:
    """rate_limiter= must have acquire, release and rate."""
    with pytest.raises(ValueError, match="RateLimiter"):
        QConnectClient(rate_limiter=object())  # type: ignore[arg-type]


def test_the_seam_is_public() -> None:
    """RateLimiter, AdaptiveRateLimiter and SendOutcome are importable from the package."""
    assert isinstance(Ledger(), RateLimiter)
    for name in ("RateLimiter", "AdaptiveRateLimiter", "SendOutcome"):
        assert name in qconnect_async.__all__


def test_set_testing_is_public_and_restores_as_a_context_manager() -> None:
    """qconnect_async.testing.set_testing(): on, off, and back to what it was after `with`."""
    with set_testing(False):
        assert not is_testing()
        with set_testing():
            assert is_testing()
        assert not is_testing()
        set_testing(True)
        assert is_testing()
        set_testing(False)
        assert not is_testing()


async def test_testing_mode_lets_a_throttled_client_run_without_pacing(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """In testing mode a limiter cut to its floor by throttles still lets every send go."""
    control = RateController(quiet=math.inf)
    # Cut to the floor just now, with a recovery that would take years: 0.5 req/s.
    control.enabled, control.w_max, control.k = True, control.min_rate, 1e9
    control.cut_at = time.monotonic()  # the default loop's clock
    limiter = Watched(controller=control)
    assert limiter.rate == control.min_rate
    with set_testing():
        qconnect_server.throttle("ListImportJobs", times=3)
        async with make(qconnect_server, limiter) as client:
            assert len([j async for j in client.list_import_jobs(kb, page_size=10)]) == 250
    assert qconnect_server.stats.throttled == 3
    assert limiter.waits == [0.0] * 28  # 25 pages and 3 throttles, none of them waited


class Watched(AdaptiveRateLimiter):
    """The default limiter, noting how long each send would have had to wait."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waits: list[float] = []

    def _wait_time(self, now: float) -> float:
        wait = super()._wait_time(now)
        self.waits.append(wait)
        return wait

"""Bounded waiting: deadline= on single calls, and max_rate_wait's fail-fast RateWaitExceededError.

Over real HTTP to the fake service where a request is (or must not be) sent; on the fake
clock where only the sender's line is at stake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from _fake_time import FakeTime
from qconnect_async import (
    AdaptiveRateLimiter,
    DeadlineExceededError,
    QConnectClient,
    RateController,
    RateWaitExceededError,
    SendOutcome,
    ThrottlingError,
    ValidationError,
)
from qconnect_async._call import Call
from qconnect_async._config import set_testing
from qconnect_async._retry import RetryPolicy
from qconnect_async._send import Sender
from qconnect_async.testing import QConnectServer

JOB_ID = "11111111-1111-1111-1111-111111111111"


def steady_limiter() -> AdaptiveRateLimiter:
    """A limiter that paces at a steady rate once ``pace_at`` is called (no growth, no quiet)."""
    control = RateController(scale=1e-12, hold=1e9, quiet=1e9, min_rate=0.1)
    return AdaptiveRateLimiter(controller=control)


@pytest.fixture
async def client(qconnect_server: QConnectServer) -> AsyncIterator[QConnectClient]:
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url,
        region_name="us-east-1",
        rate_limiter=steady_limiter(),
    ) as c:
        yield c


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    return qconnect_server.create_knowledge_base("kb")


async def test_every_single_call_ends_at_its_deadline(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """start, get, delete and wait_for_import_job each raise DeadlineExceededError at deadline=."""
    qconnect_server.set_latency(2.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcomes = await asyncio.gather(
        client.start_import_job(kb, b"a,b\n", deadline=0.2),
        client.get_import_job(kb, JOB_ID, deadline=0.2),
        client.delete_import_job(kb, JOB_ID, deadline=0.2),
        client.wait_for_import_job(kb, JOB_ID, timeout=600, deadline=0.2),
        return_exceptions=True,
    )
    took = loop.time() - started
    assert all(isinstance(error, DeadlineExceededError) for error in outcomes), outcomes
    operations = [error.operation for error in outcomes if isinstance(error, DeadlineExceededError)]
    assert operations == ["StartContentUpload", "GetImportJob", "DeleteImportJob", "GetImportJob"]
    assert took < 2.0  # none waited for the 2 s answers: each was cut at its deadline


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), "1"])
async def test_a_bad_deadline_or_max_rate_wait_is_refused_before_any_request(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer, value: Any
) -> None:
    """deadline must be positive and finite, max_rate_wait non-negative and finite."""
    with pytest.raises(ValidationError, match="deadline"):
        await client.get_import_job(kb, JOB_ID, deadline=value)
    if value != 0:
        with pytest.raises(ValidationError, match="max_rate_wait"):
            await client.get_import_job(kb, JOB_ID, max_rate_wait=value)
    with pytest.raises(ValidationError, match="priority"):
        await client.get_import_job(kb, JOB_ID, priority="urgent")  # type: ignore[arg-type]
    assert qconnect_server.stats.total_requests == 0


async def test_a_request_the_send_rate_would_hold_too_long_fails_before_sending(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """At 0.1 sends/s with the token spent, max_rate_wait=1.5 raises at once: nothing is sent,
    and retry_after says when a send is expected to be allowed (about 10 s)."""
    limiter = client.rate_limiter
    assert isinstance(limiter, AdaptiveRateLimiter)
    bound = 1.5
    with set_testing(False):
        limiter.controller.pace_at(asyncio.get_running_loop().time(), 0.1)
        await anext(client.list_import_jobs(kb).pages())  # takes the token
        qconnect_server.reset_stats()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RateWaitExceededError) as info:
            await client.get_import_job(kb, JOB_ID, max_rate_wait=bound)
        with pytest.raises(RateWaitExceededError):
            await anext(client.list_import_jobs(kb, max_rate_wait=bound).pages())
        with pytest.raises(RateWaitExceededError):
            await anext(client.list_knowledge_bases(max_rate_wait=bound).pages())
        with pytest.raises(RateWaitExceededError):  # its polls too
            await client.wait_for_import_job(kb, JOB_ID, max_rate_wait=bound)
        took = loop.time() - started
    assert qconnect_server.stats.total_requests == 0
    # Refused before waiting: giving up after a wait takes the bound at least, by construction.
    assert took < bound
    error = info.value
    assert isinstance(error, ThrottlingError)  # handlers of throttling handle it too
    assert error.retry_after is not None and bound < error.retry_after <= 10.0
    assert (error.operation, error.knowledge_base_id, error.http_status) == (
        "GetImportJob",
        kb,
        None,
    )


@pytest.mark.fake_clock
async def test_requests_within_max_rate_wait_are_sent_and_the_one_past_it_is_shed() -> None:
    """At 10 sends/s, four requests queued with max_rate_wait=0.45 are all sent in turn; a
    fifth, expected to wait (4 + 1) / 10 = 0.5 s, is refused at once."""
    ft = FakeTime()
    with set_testing(False):
        limiter = steady_limiter()
        limiter.controller.pace_at(ft.now, 10.0)
        sender = Sender(policy=RetryPolicy(), limiter=limiter, max_concurrency=8)
        sent: list[float] = []

        async def attempt() -> float:
            sent.append(ft.now)
            return ft.now

        first = await sender.send(Call("GetImportJob"), attempt)  # spends the bucket's token
        queued = [
            asyncio.create_task(sender.send(Call("GetImportJob", max_rate_wait=0.45), attempt))
            for _ in range(4)
        ]
        await asyncio.sleep(0)
        with pytest.raises(RateWaitExceededError) as info:
            await sender.send(Call("GetImportJob", max_rate_wait=0.45), attempt)
        assert ft.now == first  # refused at once
        times = await asyncio.gather(*queued)
    assert len(sent) == 5
    assert max(times) - first <= 0.45
    assert info.value.retry_after == pytest.approx(0.5)


class BlockingLimiter:
    """A third-party limiter whose rate is not known ahead and whose acquire never returns."""

    async def acquire(self) -> int:
        await asyncio.Event().wait()
        return 0

    def release(self, permit: int, outcome: SendOutcome) -> None:
        pass

    @property
    def rate(self) -> float:
        return float("inf")


@pytest.mark.fake_clock
async def test_a_wait_not_known_ahead_gives_up_at_max_rate_wait_unsent() -> None:
    """When the expected wait is unknown (a limiter without a rate), the request waits
    max_rate_wait, then raises RateWaitExceededError without calling the attempt."""
    ft = FakeTime()
    sender = Sender(policy=RetryPolicy(), limiter=BlockingLimiter(), max_concurrency=2)
    attempts = 0

    async def attempt() -> str:
        nonlocal attempts
        attempts += 1
        return "sent"

    with set_testing(False), pytest.raises(RateWaitExceededError) as info:
        await sender.send(Call("GetImportJob", "kb", max_rate_wait=1.5), attempt)
    assert ft.now == pytest.approx(1.5)
    assert attempts == 0
    assert info.value.retry_after == pytest.approx(1.5)
    assert sender.in_flight == 0


async def test_a_starts_deadline_bounds_its_start_import_job_too(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """The StartImportJob after the upload is bounded by the start's deadline: a slow one
    raises DeadlineExceededError naming it."""
    qconnect_server.set_latency(5.0, "StartImportJob")
    with pytest.raises(DeadlineExceededError) as info:
        await client.start_import_job(kb, b"a,b\n", deadline=0.5)
    assert info.value.operation == "StartImportJob"

"""RedisRateLimiter on a real redis-server: one fleet rate, and Redis never a way to fail."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import redis.asyncio as aioredis

from _redis_server import RedisServer
from qconnect_async import QConnectClient
from qconnect_async._ratecontrol import RateController
from qconnect_async._ratelimit import RateLimiter, SendOutcome
from qconnect_async.redis import RedisRateLimiter
from qconnect_async.redis._script import SHA
from qconnect_async.testing import QConnectServer

# Tests that do not measure pacing start fast: the slow start would only make them slower.
# And they wait for Redis longer than the default 50 ms: on a loaded CI machine a busy event
# loop can take that long, and a fallback then would change what they count.
FAST = {"start_rate": 10_000.0, "timeout": 1.0}


def _hash(server: RedisServer, key: str) -> dict[str, float]:
    with server.sync() as client:
        return {k.decode(): float(v) for k, v in client.hgetall(f"{{{key}}}:rate").items()}


async def _send(limiter: RedisRateLimiter, outcome: SendOutcome = SendOutcome.ACCEPTED) -> None:
    limiter.release(await limiter.acquire(), outcome)


async def _settle(limiter: RedisRateLimiter) -> None:
    """Let the limiter's own tasks (a throttle being told, a probe) finish."""
    while limiter._tasks:
        await asyncio.wait(set(limiter._tasks))


async def _until_shared(limiter: RedisRateLimiter) -> None:
    """Keep sending (as a client would) until the limiter rejoined the fleet's rate."""
    for _ in range(500):
        if limiter.shared:
            return
        await _send(limiter)
        await _settle(limiter)
        await asyncio.sleep(0.01)
    raise AssertionError("the limiter never rejoined the shared rate")


async def _until_listening(server: RedisServer, channel: str, members: int) -> None:
    """Wait until ``members`` limiters subscribed to ``channel`` (their listeners start)."""
    for _ in range(500):
        with server.sync() as client:
            if dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= members:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {members} listeners on {channel}")


async def test_is_a_rate_limiter(redis_server: RedisServer) -> None:
    """RedisRateLimiter is a RateLimiter; a new key's fleet starts at the slow-start rate."""
    async with RedisRateLimiter(redis_server.url, key="proto", timeout=1.0) as limiter:
        assert isinstance(limiter, RateLimiter)
        await _send(limiter)
        assert limiter.shared
        assert limiter.rate == 10.0  # start_rate, doubling every start_doubling seconds


async def test_clients_of_one_process_share_one_controller(redis_server: RedisServer) -> None:
    """Two limiters on one key: one throttle seen by either paces both; one cut per event."""
    async with (
        RedisRateLimiter(redis_server.url, key="fleet", **FAST) as a,
        RedisRateLimiter(redis_server.url, key="fleet", **FAST) as b,
    ):
        for _ in range(2):  # few answers: the throttle below is no stray one among many
            await _send(a)
            await _send(b)
        pa, pb = await a.acquire(), await b.acquire()  # both decided before the cut
        a.release(pa, SendOutcome.THROTTLED)
        await _settle(a)
        b.release(pb, SendOutcome.THROTTLED)  # the same congestion event: no second cut
        await _settle(b)
        await _send(b)
        state = _hash(redis_server, "fleet")
        assert state["cuts"] == 1
        assert state["sends"] == 7
        assert state["enabled"] == 1
        assert math.isfinite(b.rate)  # b never saw its own throttle start the event


async def test_a_cut_is_published_on_the_keys_channel(redis_server: RedisServer) -> None:
    """The script publishes each cut ("{now} {rate}") on the key's channel, in its {tag}."""
    with redis_server.sync() as client:
        subscriber = client.pubsub(ignore_subscribe_messages=True)
        subscriber.subscribe("{published}:cuts")
        async with RedisRateLimiter(redis_server.url, key="published", **FAST) as limiter:
            permit = await limiter.acquire()
            limiter.release(permit, SendOutcome.THROTTLED)  # the first throttle: a cut
            await _settle(limiter)
        message = None
        for _ in range(50):  # None for the subscription's own confirmation, ignored
            message = message or subscriber.get_message(timeout=0.1)
        subscriber.close()
    assert message is not None
    at, rate = (float(value) for value in message["data"].split())
    assert at == pytest.approx(_hash(redis_server, "published")["cut_at"])
    assert math.isfinite(rate) and rate > 0


async def test_a_cut_voids_the_slots_other_members_booked(redis_server: RedisServer) -> None:
    """A member waiting for its slot hears another's cut and books again, at the new rate."""
    slow = {"start_rate": 2.0, "start_doubling": 1000.0, "burst": 1.0, "timeout": 1.0}  # 2 req/s
    async with (
        RedisRateLimiter(redis_server.url, key="void", **slow) as a,
        RedisRateLimiter(redis_server.url, key="void", **slow) as b,
    ):
        asks: list[str] = []
        call = b._call

        async def spy(ask: str, accepted: int, throttles: list[float]) -> Any:
            asks.append(ask)
            return await call(ask, accepted, throttles)

        b._call = spy  # type: ignore[method-assign]
        first = await a.acquire()  # the first slot is now; b's next one half a second away
        await _send(b)  # b listens for cuts from its first acquire on
        await _until_listening(redis_server, "{void}:cuts", 2)
        waiting = asyncio.create_task(b.acquire())
        await asyncio.sleep(0.05)  # b has booked and waits for its slot
        a.release(first, SendOutcome.THROTTLED)  # a's throttle cuts the fleet's rate
        b.release(await waiting, SendOutcome.ACCEPTED)
    # b's first send, its booking, the booking again (then aclose tells what is batched)
    assert [ask for ask in asks if ask != "0"] == ["1", "1", "2"]
    state = _hash(redis_server, "void")
    assert state["cuts"] == 1
    assert state["sends"] == 3  # a's one, b's two: the voided booking is not a second send


async def test_keys_do_not_interfere(redis_server: RedisServer) -> None:
    """A throttle under one key leaves another key's fleet unpaced."""
    async with (
        RedisRateLimiter(redis_server.url, key="one", **FAST) as one,
        RedisRateLimiter(redis_server.url, key="two", **FAST) as two,
    ):
        await _send(two)
        await _send(one)
        await _send(one, SendOutcome.THROTTLED)
        await _settle(one)
        await _send(one)
        await _send(two)
        assert math.isfinite(one.rate)
        assert _hash(redis_server, "one")["cuts"] == 1
        assert "cuts" not in _hash(redis_server, "two") or _hash(redis_server, "two")["cuts"] == 0
        assert _hash(redis_server, "two")["enabled"] == 0


async def test_state_is_one_tagged_key_that_expires(redis_server: RedisServer) -> None:
    """All state is one hash under a {key} tag (one Cluster slot), with a TTL on every write."""
    async with RedisRateLimiter(
        redis_server.url, key="acct-1/us-east-1", ttl=120.0, timeout=1.0
    ) as limiter:
        await _send(limiter)
    with redis_server.sync() as client:
        assert client.keys("*") == [b"{acct-1/us-east-1}:rate"]
        assert 0 < client.pttl("{acct-1/us-east-1}:rate") <= 120_000


def test_processes_share_a_key(redis_server: RedisServer) -> None:
    """Several processes on one key feed one schedule and one controller."""
    child = textwrap.dedent(
        f"""
        import asyncio, sys
        from qconnect_async._ratelimit import SendOutcome
        from qconnect_async.redis import RedisRateLimiter

        async def main(throttle):
            async with RedisRateLimiter({redis_server.url!r}, key="procs", timeout=1.0) as limiter:
                for n in range(10):
                    permit = await limiter.acquire()
                    outcome = SendOutcome.THROTTLED if throttle and n >= 5 else SendOutcome.ACCEPTED
                    limiter.release(permit, outcome)
                assert limiter.shared

        asyncio.run(main(sys.argv[1] == "1"))
        """
    )
    children = [
        subprocess.Popen([sys.executable, "-c", child, "1" if n == 0 else "0"]) for n in range(3)
    ]
    assert [p.wait(timeout=60) for p in children] == [0, 0, 0]
    state = _hash(redis_server, "procs")
    assert state["sends"] == 30
    # Five throttles in a row: congestion (no stray one), cut by the one shared controller.
    assert state["cuts"] >= 1
    assert state["enabled"] == 1
    assert state["seen_value"] > 0  # every process's acceptances reached the one controller


async def test_script_flush_reloads_the_script(redis_server: RedisServer) -> None:
    """After SCRIPT FLUSH the next decision loads the script again and stays shared."""
    async with RedisRateLimiter(redis_server.url, key="flush", **FAST) as limiter:
        await _send(limiter)
        with redis_server.sync() as client:
            client.script_flush()
        await _send(limiter)
        assert limiter.shared
    assert _hash(redis_server, "flush")["sends"] == 2


async def test_entering_connects_loads_the_script_and_listens(redis_server: RedisServer) -> None:
    """`async with` prepares what the first send needs (a fleet starts when its hosts are
    busiest): the script is loaded and the cut channel subscribed before any acquire."""
    with redis_server.sync() as client:
        client.script_flush()
        async with RedisRateLimiter(redis_server.url, key="warm", **FAST) as limiter:
            assert client.script_exists(SHA) == [True]
            for _ in range(100):  # the listener subscribes from its own task
                if client.pubsub_numsub("{warm}:cuts") == [(b"{warm}:cuts", 1)]:
                    break
                await asyncio.sleep(0.01)
            assert client.pubsub_numsub("{warm}:cuts") == [(b"{warm}:cuts", 1)]
            assert limiter.shared and "sends" not in _hash(redis_server, "warm")


async def test_wrong_url_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listening: every send goes out, paced in-process; one WARNING, then DEBUG."""
    nowhere = RedisServer()  # a free port, never started
    caplog.set_level(logging.DEBUG, logger="qconnect_async")
    async with RedisRateLimiter(nowhere.url, probe_interval=0.01, **FAST) as limiter:
        for _ in range(5):
            await _send(limiter)
            await _settle(limiter)
            await asyncio.sleep(0.02)  # let the probes come due: they fail too
        assert not limiter.shared
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "pacing in-process" in warnings[0].getMessage()
    assert any("still away" in r.getMessage() for r in caplog.records)


async def test_slow_redis_falls_back_then_rejoins(redis_server: RedisServer) -> None:
    """A paused Redis (CLIENT PAUSE) answers after the timeout: the send goes out in-process."""
    async with RedisRateLimiter(
        redis_server.url, key="slow", probe_interval=0.05, **{**FAST, "timeout": 0.05}
    ) as limiter:
        await _send(limiter)
        with redis_server.sync() as client:
            client.execute_command("CLIENT", "PAUSE", "1000")
        await _send(limiter)
        assert not limiter.shared
        await _until_shared(limiter)
        await _send(limiter)
    assert _hash(redis_server, "slow")["sends"] == 2  # the first and the one after rejoining


async def test_a_fallback_while_the_fleet_paces_goes_on_paced(redis_server: RedisServer) -> None:
    """Falling back while the fleet paces: this member paces at its share, not unpaced.

    Its own in-process controller never saw a throttle of its own: left off, it would send
    as fast as it can the moment Redis is slow, into a service the fleet found throttling.
    """
    async with (
        RedisRateLimiter(
            redis_server.url, key="share", probe_interval=10.0, **{**FAST, "timeout": 0.05}
        ) as limiter,
        RedisRateLimiter(redis_server.url, key="share", **FAST) as other,
    ):
        for _ in range(5):
            await _send(limiter)
        for _ in range(5):  # another member's throttles cut the fleet's rate
            await _send(other, SendOutcome.THROTTLED)
        await _settle(other)
        await _send(limiter)
        fleet_rate = limiter.rate
        assert math.isfinite(fleet_rate)
        assert not limiter._local.controller.enabled  # this member saw no throttle itself
        with redis_server.sync() as client:
            client.execute_command("CLIENT", "PAUSE", "300")
        await _send(limiter)
        assert not limiter.shared
        assert limiter.rate <= fleet_rate * 1.01  # paced in-process, at most at the fleet's


async def test_from_client_is_not_closed(redis_server: RedisServer) -> None:
    """A redis.asyncio client the application owns is shared and left open."""
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        async with RedisRateLimiter.from_client(client, key="borrowed", **FAST) as limiter:
            await _send(limiter)
        assert await client.ping()
        assert _hash(redis_server, "borrowed")["sends"] == 1
    finally:
        await client.aclose()


async def test_aclose_leaves_no_task(redis_server: RedisServer) -> None:
    """Closing ends the limiter's tasks (a throttle being told) and tells what was batched."""
    limiter = RedisRateLimiter(redis_server.url, key="close", **FAST)
    await _send(limiter)
    await _send(limiter, SendOutcome.THROTTLED)
    await _send(limiter)
    await limiter.aclose()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(RuntimeError, match="closed"):
        await limiter.acquire()


async def test_listing_survives_redis_killed_and_restarted(
    own_redis_server: RedisServer, qconnect_server: QConnectServer
) -> None:
    """Redis killed and restarted mid-listing: every job listed once, the fleet rate rejoined."""
    kb = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb, 60)
    limiter = RedisRateLimiter(own_redis_server.url, key="restart", probe_interval=0.02, **FAST)
    seen: list[str] = []
    async with (
        limiter,
        QConnectClient(
            endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1", rate_limiter=limiter
        ) as client,
    ):
        async for job in client.list_import_jobs(kb, page_size=2):
            seen.append(job.import_job_id)
            if len(seen) == 10:
                own_redis_server.stop()
            elif len(seen) == 30:
                assert not limiter.shared
                own_redis_server.start()
        assert len(seen) == len(set(seen)) == 60
        await _until_shared(limiter)
        # The listing may have ended before the probe rejoined: the next send is the fleet's.
        await _send(limiter)
    assert _hash(own_redis_server, "restart")["sends"] >= 1


async def test_clients_share_a_limiter_under_a_service_limit(
    redis_server: RedisServer, qconnect_server: QConnectServer
) -> None:
    """Two clients on one key under a throttling service: all jobs listed, the fleet cut."""
    kbs = qconnect_server.seed(4, 40)
    qconnect_server.throttle(times=3)
    # A high floor: the test pins sharing, not how long a recovery from 0.5 req/s takes.
    fast = RateController(min_rate=200.0)
    async with RedisRateLimiter(
        redis_server.url, key="clients", controller=fast, **FAST
    ) as limiter:

        async def listing() -> int:
            async with QConnectClient(
                endpoint_url=qconnect_server.endpoint_url,
                region_name="us-east-1",
                rate_limiter=limiter,
            ) as client:
                return sum([1 async for _ in client.list_import_jobs_many(kbs, page_size=10)])

        assert await asyncio.gather(listing(), listing()) == [160, 160]
        await _settle(limiter)
    state = _hash(redis_server, "clients")
    assert state["cuts"] >= 1
    assert state["enabled"] == 1


def test_importing_the_package_does_not_import_redis() -> None:
    """`import qconnect_async` works without redis-py; only qconnect_async.redis needs it."""
    code = "import sys, qconnect_async; assert 'redis' not in sys.modules, 'redis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_redis_the_import_error_names_the_extra() -> None:
    """Without redis-py, importing qconnect_async.redis says which extra to install."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if redis-py were not installed
        try:
            import qconnect_async.redis
        except ImportError as error:
            assert "qconnect-async[redis]" in str(error), error
        else:
            raise AssertionError("no ImportError")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_member_books_one_slot_ahead_at_a_time(redis_server: RedisServer) -> None:
    """Concurrent sends of one member book one by one: a later cut re-paces the rest."""
    async with RedisRateLimiter(
        redis_server.url, key="ahead", start_rate=0.5, burst=1.0, horizon=5.0, timeout=1.0
    ) as limiter:
        tasks = [asyncio.create_task(limiter.acquire()) for _ in range(3)]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for _ in range(500):  # the second send books its slot, 2 s away, and sleeps
            if _hash(redis_server, "ahead")["sends"] >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert _hash(redis_server, "ahead")["sends"] == 2  # the third has not booked yet
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


def test_ahead_must_be_a_positive_int() -> None:
    """`ahead` below 1 is refused at construction."""
    with pytest.raises(ValueError, match="ahead"):
        RedisRateLimiter("redis://127.0.0.1:1/0", ahead=0)


async def test_an_error_answer_falls_back(redis_server: RedisServer) -> None:
    """Redis answering an error (here the key holds a string) paces in-process, never raises."""
    with redis_server.sync() as client:
        client.set("{taken}:rate", "not a hash")
    async with RedisRateLimiter(redis_server.url, key="taken", **FAST) as limiter:
        await _send(limiter)
        assert not limiter.shared


async def test_a_fallback_paces_from_what_the_member_saw(redis_server: RedisServer) -> None:
    """A member throttled while shared keeps pacing (AdaptiveRateLimiter) once Redis is away."""
    async with RedisRateLimiter(redis_server.url, key="seen", probe_interval=60.0, **FAST) as lim:
        await _send(lim)
        await _send(lim)
        await _send(lim, SendOutcome.THROTTLED)
        await _settle(lim)
        with redis_server.sync() as client:
            client.delete("{seen}:rate")
            client.set("{seen}:rate", "not a hash")  # every call now answers an error
        await _send(lim)
        assert not lim.shared
        assert lim._local.enabled  # the in-process limiter heard the shared throttle
        assert math.isfinite(lim.rate)


async def test_a_member_books_for_its_interactive_sends_first(redis_server: RedisServer) -> None:
    """A member's interactive send waiting to book goes before its bulk sends waiting to book
    (the priority keyword clients pass); the one already booking keeps its turn."""
    async with RedisRateLimiter(
        redis_server.url, key="prio", start_rate=20.0, burst=1.0, timeout=1.0
    ) as limiter:
        assert "priority" in inspect.signature(limiter.acquire).parameters
        order: list[str] = []

        async def send(name: str, priority: int) -> None:
            permit = await limiter.acquire(priority=priority)
            order.append(name)
            limiter.release(permit, SendOutcome.ACCEPTED)

        bulk = [asyncio.create_task(send(f"b{n}", 1)) for n in range(3)]
        await asyncio.sleep(0)  # b0 books; b1 and b2 wait for their turn to book
        interactive = asyncio.create_task(send("i", 0))
        await asyncio.gather(*bulk, interactive)
    assert order == ["b0", "i", "b1", "b2"]

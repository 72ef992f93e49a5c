"""RedisLimiters on a real redis-server: one shared rate per (account, Region), its key derived."""

from __future__ import annotations

import pytest

from _redis_server import RedisServer
from qconnect_async import QConnectRouter, ValidationError
from qconnect_async.redis import RedisLimiters, RedisRateLimiter
from qconnect_async.testing import QConnectServer

OWN, OTHER = "123456789012", "222222222222"
PAIRS = [(OWN, "us-east-1"), (OTHER, "eu-west-2")]
FAST = {"start_rate": 10_000.0, "timeout": 1.0}  # no slow start; a loaded machine's Redis waits


def _keys(server: RedisServer) -> set[str]:
    with server.sync() as client:
        return {key.decode() for key in client.keys("*")}


async def test_a_router_on_redis_keeps_one_shared_rate_per_pair_under_a_derived_key(
    qconnect_server: QConnectServer, redis_server: RedisServer
) -> None:
    """A listing over two pairs: each pair's limiter is a RedisRateLimiter keyed by its account
    and Region, and Redis holds the state of exactly those two keys."""
    arns = []
    for account, region in PAIRS:
        kb = qconnect_server.create_knowledge_base(account=account, region=region)
        qconnect_server.add_import_jobs(kb, 120, account=account, region=region)
        arns.append(f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb}")
    async with (
        RedisLimiters(redis_server.url, **FAST) as limiters,
        QConnectRouter(
            endpoint_url=qconnect_server.endpoint_url,
            sts_endpoint_url=qconnect_server.endpoint_url,
            role_name="importer",
            rate_limiter_for=limiters,
        ) as router,
    ):
        jobs = [job async for job in router.list_import_jobs_many(arns)]
        used = {pair: router.rate_limiter(*pair) for pair in PAIRS}
    assert len(jobs) == 240
    for (account, region), limiter in used.items():
        assert isinstance(limiter, RedisRateLimiter)
        assert limiter.key == f"qconnect-async:{account}:{region}"
    assert _keys(redis_server) == {
        f"{{qconnect-async:{account}:{region}}}:rate" for account, region in PAIRS
    }


async def test_two_processes_limiters_of_one_pair_share_one_key(redis_server: RedisServer) -> None:
    """Two RedisLimiters on one Redis (two processes of a fleet) give a pair the same key, and
    different pairs different keys, whatever order the pairs are first used in."""
    async with RedisLimiters(redis_server.url) as first, RedisLimiters(redis_server.url) as second:
        a, b = first(OWN, "us-east-1"), first(OWN, "eu-west-2")
        assert second(OWN, "eu-west-2").key == b.key != a.key == second(OWN, "us-east-1").key
        assert first(OWN, "us-east-1") is a  # one limiter per pair in a process


def test_redis_limiters_refuse_a_bad_pair_or_both_a_url_and_a_client() -> None:
    """An account that is not 12 digits, a Region that is no Region name, or neither (or
    both) of url and client: ValidationError, before any connection."""
    limiters = RedisLimiters("redis://127.0.0.1:1/0")
    with pytest.raises(ValidationError):
        limiters("12345", "us-east-1")
    with pytest.raises(ValidationError):
        limiters(OWN, "US EAST")
    with pytest.raises(ValidationError):
        RedisLimiters()

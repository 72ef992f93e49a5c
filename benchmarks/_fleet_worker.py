"""One member of a fleet: `python -m benchmarks._fleet_worker --client NAME ...`.

Opens its client, prints ``ready``, waits for ``go`` on stdin (``fleet.run_fleet`` releases
every member at once), lists its KBs, prints one JSON line: wall (seconds from the go to its
last job), jobs listed, distinct job ids listed, KBs failed. Each member is its own process
with its own client, as a deployment's workers are.

``CLIENTS`` maps a name to what a member runs: qconnect_async (its own AdaptiveRateLimiter),
aiobotocore adaptive, and redis (qconnect_async with a RedisRateLimiter on one key shared by
the fleet). Add an entry for another limiter and pass its name to ``fleet.run_fleet``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from aiobotocore.config import AioConfig

from qconnect_async import QConnectClient, QConnectError, RateLimiter
from qconnect_async.redis import RedisRateLimiter, fleet_controller

from ._common import (
    ACCESS_KEY,
    SECRET_KEY,
    aiobotocore_client,
    aiobotocore_fan_out,
    isolated_aws_env,
)


@dataclass(frozen=True)
class Member:
    """What a member was told: where the service is, its KBs, how wide to list."""

    endpoint_url: str
    region: str
    kbs: list[str]
    page_size: int
    width: int
    option: str | None  # a client-specific setting (the redis client's JSON), or None


#: Lists the member's KBs; returns (the import job ids listed, repeats kept; KBs whose
#: listing raised).
Listing = Callable[[], Awaitable[tuple[list[str], int]]]
#: Opens a member's client (before the start) and yields its listing.
ClientFactory = Callable[[Member], AbstractAsyncContextManager[Listing]]


@asynccontextmanager
async def qconnect_async(member: Member) -> AsyncIterator[Listing]:
    """qconnect_async with its default limiter: one AdaptiveRateLimiter per process."""
    async with _client(member) as client:
        yield partial(_list_many, client, member)


@asynccontextmanager
async def qconnect_async_redis(member: Member) -> AsyncIterator[Listing]:
    """qconnect_async with a RedisRateLimiter: ``--option '{"url": ..., "key": ...}'``
    (and ``"probe_requests"``, to replace fleet_controller()'s).

    Every member given the same key shares one rate (the fleet's).
    """
    if member.option is None:
        raise SystemExit('--client redis needs --option \'{"url": ..., "key": ...}\'')
    shared = json.loads(member.option)
    controller = None  # fleet_controller(); "probe_requests": that one, probing so
    if "probe_requests" in shared:
        controller = replace(fleet_controller(), probe_requests=shared["probe_requests"])
    limiter = RedisRateLimiter(shared["url"], key=shared["key"], controller=controller)
    # Closed after the client: the limiter tells Redis what is left before the member exits.
    async with limiter, _client(member, rate_limiter=limiter) as client:
        yield partial(_list_many, client, member)


def _client(member: Member, *, rate_limiter: RateLimiter[Any] | None = None) -> QConnectClient:
    return QConnectClient(
        region_name=member.region,
        endpoint_url=member.endpoint_url,
        max_concurrency=member.width,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        rate_limiter=rate_limiter,
    )


async def _list_many(client: QConnectClient, member: Member) -> tuple[list[str], int]:
    # fail_fast=False lists every KB it can, as the aiobotocore member's gather does.
    ids: list[str] = []
    failed = 0
    many = client.list_import_jobs_many(member.kbs, page_size=member.page_size, fail_fast=False)
    try:
        async for job in many:
            ids.append(job.import_job_id)
    except ExceptionGroup as group:
        failed = len(group.exceptions)
    except QConnectError:
        failed = 1
    return ids, failed


@asynccontextmanager
async def aiobotocore_adaptive(member: Member) -> AsyncIterator[Listing]:
    """aiobotocore with retries={"mode": "adaptive"}: one paginator per KB under a semaphore."""
    config = AioConfig(max_pool_connections=max(10, member.width), retries={"mode": "adaptive"})

    class _Server:  # what aiobotocore_client reads
        endpoint_url = member.endpoint_url
        region = member.region

    async with aiobotocore_client(_Server(), config) as client:  # type: ignore[arg-type]
        yield partial(
            aiobotocore_fan_out, client, member.kbs, width=member.width, page_size=member.page_size
        )


CLIENTS: dict[str, ClientFactory] = {
    "qconnect_async": qconnect_async,
    "aiobotocore_adaptive": aiobotocore_adaptive,
    "redis": qconnect_async_redis,
}


async def _member(name: str, member: Member) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    async with CLIENTS[name](member) as listing:
        print("ready", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit(f"expected 'go', got {line!r}")
        start = time.perf_counter()
        ids, failed = await listing()
        wall = time.perf_counter() - start
    return {"wall": wall, "jobs": len(ids), "unique": len(set(ids)), "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fleet_worker")
    parser.add_argument("--client", choices=sorted(CLIENTS), required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--kbs", required=True, help="comma-separated KB IDs")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--option", default=None)
    args = parser.parse_args()
    member = Member(
        args.endpoint, args.region, args.kbs.split(","), args.page_size, args.width, args.option
    )
    with isolated_aws_env():
        result = asyncio.run(_member(args.client, member))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

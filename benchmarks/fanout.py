"""Many KBs at 50 ms per page and no rate limit: how close to ideal is list_import_jobs_many?

Ideal: ceil(KBs / width) rounds of `pages` sequential pages, each taking the added latency.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from qconnect_async import QConnectClient
from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, aiobotocore_client, median, qconnect_client, runs_of

GOAL, STRETCH = 1.2, 1.05


@dataclass(frozen=True)
class Sizes:
    kbs: int = 24
    jobs_per_kb: int = 300
    page_size: int = 100
    width: int = 6
    latency: float = 0.05
    runs: int = 5

    @property
    def pages_per_kb(self) -> int:
        return math.ceil(self.jobs_per_kb / self.page_size)

    @property
    def ideal(self) -> float:
        return math.ceil(self.kbs / self.width) * self.pages_per_kb * self.latency


FULL = Sizes()
SMOKE = Sizes(kbs=4, jobs_per_kb=20, page_size=10, width=2, latency=0.01)


async def _list(client: QConnectClient, kbs: list[str], sizes: Sizes) -> int:
    jobs = 0
    many = client.list_import_jobs_many(kbs, max_concurrency=sizes.width, page_size=sizes.page_size)
    async for _ in many:
        jobs += 1
    return jobs


async def _list_raw(client: Any, kbs: list[str], sizes: Sizes) -> int:
    """What users write with aiobotocore: one paginator per KB under a semaphore."""
    gate = asyncio.Semaphore(sizes.width)
    paginator = client.get_paginator("list_import_jobs")
    config = {"PageSize": sizes.page_size}

    async def one(kb: str) -> int:
        async with gate:
            pages = paginator.paginate(knowledgeBaseId=kb, PaginationConfig=config)
            return sum([len(page["importJobSummaries"]) async for page in pages])

    return sum(await asyncio.gather(*(one(kb) for kb in kbs)))


@dataclass
class _Runs:
    walls: list[float] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)

    async def measure(self, server: RemoteQConnectServer, listing: Awaitable[int]) -> None:
        server.reset_stats()
        start = time.perf_counter()
        self.jobs.append(await listing)
        self.walls.append(time.perf_counter() - start)
        stats = server.stats
        self.in_flight.append(stats.max_in_flight)
        self.requests.append(stats.total_requests)

    def to_json(self, ideal: float) -> dict[str, Any]:
        return {
            "wall_s": median(self.walls),
            "wall_over_ideal": median(self.walls) / ideal,
            "wall_s_runs": self.walls,
            "max_in_flight_runs": self.in_flight,
            "requests_runs": self.requests,
            "jobs_runs": self.jobs,
        }


async def _measure(server: RemoteQConnectServer, sizes: Sizes, runs: int) -> Section:
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    ours, raw, floor, cold = _Runs(), _Runs(), _Runs(), _Runs()
    try:
        async with (
            qconnect_client(server, max_concurrency=sizes.width) as client,
            aiobotocore_client(server) as aio,
        ):
            # The processing floor: the same listing with no added latency.
            await _list(client, kbs, sizes)  # warm-up
            for _ in range(runs):
                await floor.measure(server, _list(client, kbs, sizes))
            server.set_latency(sizes.latency, "ListImportJobs")
            await _list_raw(aio, kbs, sizes)  # warm-up
            for _ in range(runs):
                await ours.measure(server, _list(client, kbs, sizes))
                await raw.measure(server, _list_raw(aio, kbs, sizes))
                # A new client's first listing: its limiter's initial window (slow start) and
                # its connections' set-up are paid once per client, here every run.
                async with qconnect_client(server, max_concurrency=sizes.width) as new:
                    await cold.measure(server, _list(new, kbs, sizes))
    finally:
        server.clear_faults()
    wall = median(ours.walls)
    ratio = wall / sizes.ideal
    raw_ratio = median(raw.walls) / sizes.ideal
    most = max(ours.in_flight)
    shape = (
        f"{sizes.kbs} KBs x {sizes.pages_per_kb} pages, {sizes.latency * 1000:g} ms/page, "
        f"{sizes.width} at once"
    )
    rows = [
        Row(
            "fanout.wall_ratio",
            f"Fan-out {shape}: wall / ideal ({sizes.ideal:.2f} s)",
            f"{ratio:.2f} ({wall:.2f} s)",
            f"<= {GOAL} (stretch {STRETCH})",
            ratio <= GOAL,
        ),
        Row(
            "fanout.max_in_flight",
            "Fan-out: most requests in flight (server-counted)",
            str(most),
            f"<= {sizes.width}",
            most <= sizes.width,
        ),
        Row(
            "fanout.cold_wall_ratio",
            "Fan-out, same, a new client's first listing: wall / ideal",
            f"{median(cold.walls) / sizes.ideal:.2f} ({median(cold.walls):.2f} s)",
        ),
        Row(
            "fanout.aiobotocore_wall_ratio",
            f"Fan-out, same: aiobotocore gather + Semaphore({sizes.width}) wall / ideal",
            f"{raw_ratio:.2f} ({median(raw.walls):.2f} s)",
        ),
    ]
    note = (
        f"Fan-out: list_import_jobs_many(max_concurrency={sizes.width}, page_size="
        f"{sizes.page_size}) on QConnectClient(max_concurrency={sizes.width}), no rate limit; "
        f"median wall over {runs} run(s) after a warm-up (a new client's first listing: a new "
        "client each run, after the warm-up's imports); ideal = "
        f"ceil({sizes.kbs}/{sizes.width}) x {sizes.pages_per_kb} x {sizes.latency * 1000:g} ms. "
        "The server keeps connections alive, as AWS does. With no added latency the same "
        f"listing takes {median(floor.walls):.2f} s (the server's and client's processing)."
    )
    data = {
        "runs": runs,
        "ideal_s": sizes.ideal,
        "expected_jobs": sizes.kbs * sizes.jobs_per_kb,
        "wall_over_ideal": ratio,
        "max_in_flight": most,
        "qconnect_async": ours.to_json(sizes.ideal),
        "aiobotocore": raw.to_json(sizes.ideal),
        "new_client": cold.to_json(sizes.ideal),
        "no_latency_floor": floor.to_json(sizes.ideal),
    }
    return Section("fanout", rows, [note], data)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure wall / ideal and concurrency of a fan-out over many slow KBs."""
    sizes = SMOKE if smoke else FULL
    return asyncio.run(_measure(server, sizes, runs_of(sizes.runs, smoke, runs)))

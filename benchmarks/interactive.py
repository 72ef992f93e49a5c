"""Interactive calls beside bulk work on one client, and the FastAPI example shedding load.

`run`: a client with max_concurrency 8 lists 30 KBs x 500 jobs with list_import_jobs_many
(bulk) against a 10 req/s quota, while a one-page list_import_jobs(kb, page_size=10)
(interactive) is asked every 0.5 s: the interactive requests' latency, and the bulk
listing's wall with and without them.

`run_shed`: examples/fastapi_app.py served in-process (httpx's ASGITransport, its lifespan
running) against the same quota: 300 page requests, 100 at once, with the example's 2 s
bound (PAGE_RATE_WAIT) and without it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from qconnect_async import QConnectClient
from qconnect_async.testing import RemoteQConnectServer, set_testing

from ._common import Row, Section, median, qconnect_client, runs_of

GOAL_P50, GOAL_MAX, GOAL_P99 = 0.15, 0.35, 2.5


@dataclass(frozen=True)
class Sizes:
    kbs: int = 30
    jobs_per_kb: int = 500
    rate: float = 10.0
    burst: int = 5
    width: int = 8
    every: float = 0.5  # seconds between interactive requests
    requests: int = 300  # the FastAPI rows
    at_once: int = 100
    bound: float = 2.0
    runs: int = 1


FULL = Sizes()
SMOKE = Sizes(kbs=3, jobs_per_kb=150, rate=40.0, every=0.1, requests=30, at_once=10, bound=0.5)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


# -- interactive beside bulk ---------------------------------------------------------------


async def _bulk(client: QConnectClient, kbs: list[str]) -> float:
    started = time.perf_counter()
    async for _ in client.list_import_jobs_many(kbs):
        pass
    return time.perf_counter() - started


async def _one_page(client: QConnectClient, kb: str) -> float:
    started = time.perf_counter()
    async with client.list_import_jobs(kb, page_size=10) as listing:
        await anext(listing.pages())
    return time.perf_counter() - started


@dataclass
class _Run:
    wall: float  # the bulk listing's
    latencies: list[float]  # each interactive request's
    requests: int  # every request the server answered, throttled ones too
    throttled: int


async def _scenario(
    server: RemoteQConnectServer, kbs: list[str], sizes: Sizes, *, interactive: bool
) -> _Run:
    """The bulk listing's wall, each interactive request's latency (none: no traffic), and
    what the server saw while the bulk listing ran."""
    server.set_rate_limit(sizes.rate, burst=sizes.burst)  # a full bucket for each scenario
    latencies: list[float] = []
    async with qconnect_client(server, max_concurrency=sizes.width) as client:
        server.reset_stats()
        bulk = asyncio.create_task(_bulk(client, kbs))
        while interactive and not bulk.done():
            latencies.append(await _one_page(client, kbs[0]))
            await asyncio.wait([bulk], timeout=max(0.0, sizes.every - latencies[-1]))
        wall = await bulk
        stats = server.stats
    return _Run(wall, latencies, stats.total_requests, stats.throttled)


async def _measure(server: RemoteQConnectServer, sizes: Sizes, runs: int) -> Section:
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    alone_runs: list[_Run] = []
    beside_runs: list[_Run] = []
    try:
        for _ in range(runs):
            alone_runs.append(await _scenario(server, kbs, sizes, interactive=False))
            beside_runs.append(await _scenario(server, kbs, sizes, interactive=True))
    finally:
        server.set_rate_limit(None)
    alone = [run.wall for run in alone_runs]
    beside = [run.wall for run in beside_runs]
    latencies = [latency for run in beside_runs for latency in run.latencies]
    p50, worst = median(latencies), max(latencies, default=float("nan"))
    # The bound: the bulk listing alone, plus the quota's seconds the pages' own requests
    # took (pages / rate), plus those of the throttles beyond the ones the listing meets
    # alone (each a request the quota refused: the client's rate is cut and it is sent again).
    pages = median([len(run.latencies) for run in beside_runs])
    extra_throttles = max(
        0.0, median([r.throttled for r in beside_runs]) - median([r.throttled for r in alone_runs])
    )
    share = pages / sizes.rate
    bound = median(alone) + share + extra_throttles / sizes.rate
    rows = [
        Row(
            "interactive.page_latency",
            "One page beside a bulk listing: p50 / max",
            f"{p50:.3f} s / {worst:.3f} s (p90 {_quantile(latencies, 0.9):.3f} s, "
            f"{len(latencies)} requests)",
            f"<= {GOAL_P50} s / <= {GOAL_MAX} s",
            p50 <= GOAL_P50 and worst <= GOAL_MAX,
        ),
        Row(
            "interactive.bulk_wall",
            "The bulk listing's wall: beside pages / alone",
            f"{median(beside):.2f} s / {median(alone):.2f} s (throttled: "
            f"{median([r.throttled for r in beside_runs]):g} / "
            f"{median([r.throttled for r in alone_runs]):g} of "
            f"{median([r.requests for r in beside_runs]):g} / "
            f"{median([r.requests for r in alone_runs]):g} requests)",
            f"<= alone + pages' and their throttles' share ({bound:.2f} s)",
            median(beside) <= bound,
        ),
    ]
    note = (
        f"Interactive: set_rate_limit({sizes.rate:g}, burst={sizes.burst}); "
        f"QConnectClient(max_concurrency={sizes.width}); list_import_jobs_many of {sizes.kbs} "
        f"KBs x {sizes.jobs_per_kb} jobs (bulk) while list_import_jobs(kb, page_size=10) asks "
        f"one page every {sizes.every:g} s (interactive); latency per page request, wall of "
        f"the bulk listing alone and beside the pages, alternating; share = (pages + "
        f"throttles beside beyond those alone) / rate; medians of {runs} run(s)."
    )
    data = {
        "alone_s": alone,
        "beside_s": beside,
        "latencies_s": latencies,
        "requests": {
            "alone": [r.requests for r in alone_runs],
            "beside": [r.requests for r in beside_runs],
        },
        "throttled": {
            "alone": [r.throttled for r in alone_runs],
            "beside": [r.throttled for r in beside_runs],
        },
    }
    return Section("interactive", rows, [note], data)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """One-page requests beside a saturating bulk listing."""
    sizes = SMOKE if smoke else FULL
    with set_testing(False):  # real pacing, also when a test suite runs the smoke
        return asyncio.run(_measure(server, sizes, runs_of(sizes.runs, smoke, runs)))


# -- the FastAPI example shedding load -----------------------------------------------------


def _example() -> ModuleType:
    """examples/fastapi_app.py, imported by path (examples/ is not a package)."""
    name = "benchmarks_fastapi_app"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic looks its models' module up there
    spec.loader.exec_module(module)
    return module


@dataclass
class _Answers:
    latencies: list[float]
    statuses: dict[int, int]
    #: 503s without a Retry-After, and answers other than 200 and 503
    bad: int


async def _serve(
    server: RemoteQConnectServer, kb: str, sizes: Sizes, bound: float | None
) -> _Answers:
    example = _example()
    example.make_client = lambda: qconnect_client(server)
    example.PAGE_RATE_WAIT = bound
    app: Any = example.app
    server.set_rate_limit(sizes.rate, burst=sizes.burst)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    bad = 0
    gate = asyncio.Semaphore(sizes.at_once)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:

            async def one() -> None:
                nonlocal bad
                async with gate:
                    started = time.perf_counter()
                    response = await http.get(f"/knowledge-bases/{kb}/import-jobs?limit=10")
                    latencies.append(time.perf_counter() - started)
                status = response.status_code
                statuses[status] = statuses.get(status, 0) + 1
                if status not in (200, 503) or (
                    status == 503 and "retry-after" not in response.headers
                ):
                    bad += 1

            await asyncio.gather(*(one() for _ in range(sizes.requests)))
    return _Answers(latencies, statuses, bad)


async def _measure_shed(server: RemoteQConnectServer, sizes: Sizes) -> Section:
    server.reset()
    [kb] = server.seed(1, 100)
    try:
        bounded = await _serve(server, kb, sizes, sizes.bound)
        unbounded = await _serve(server, kb, sizes, None)
    finally:
        server.set_rate_limit(None)
        _example().PAGE_RATE_WAIT = FULL.bound

    def value(answers: _Answers) -> str:
        lat = answers.latencies
        counts = ", ".join(f"{n} x {s}" for s, n in sorted(answers.statuses.items()))
        return (
            f"p99 {_quantile(lat, 0.99):.2f} s (p50 {statistics.median(lat):.2f} s, "
            f"max {max(lat):.2f} s); {counts}"
        )

    p99 = _quantile(bounded.latencies, 0.99)
    rows = [
        Row(
            "fastapi_shed.bounded",
            f"FastAPI example, {sizes.requests} pages ({sizes.at_once} at once), "
            f"{sizes.bound:g} s bound",
            value(bounded),
            f"p99 <= {GOAL_P99} s; only 200 or 503 + Retry-After",
            p99 <= GOAL_P99 and bounded.bad == 0,
        ),
        Row(
            "fastapi_shed.unbounded",
            "The same, without max_rate_wait",
            value(unbounded),
        ),
    ]
    note = (
        f"FastAPI shedding: examples/fastapi_app.py in-process (httpx ASGITransport) on a "
        f"QConnectClient() against set_rate_limit({sizes.rate:g}, burst={sizes.burst}); "
        f"{sizes.requests} GET /knowledge-bases/KB/import-jobs?limit=10, {sizes.at_once} at "
        f"once; latency per request; PAGE_RATE_WAIT = {sizes.bound:g} s, then None."
    )
    data = {"bounded": bounded.__dict__, "unbounded": unbounded.__dict__}
    return Section("fastapi_shed", rows, [note], data)


def run_shed(
    server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None
) -> Section:
    """The FastAPI example under a burst of page requests, with and without its bound."""
    with set_testing(False):  # real pacing, also when a test suite runs the smoke
        return asyncio.run(_measure_shed(server, SMOKE if smoke else FULL))

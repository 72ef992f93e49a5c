"""The send rate under production conditions: recovery, sporadic throttles, an early throttle.

- recovery: one long-lived client, 8 workers listing one-page KBs back to back, 20 ms a page,
  8 s against 2 req/s, then no limit: seconds until its throughput (0.5 s windows) is >= 90%
  of a fresh client's, measured the same way first. The goal is the controller's rule:
  max(3 s, the time of its probe_requests at the throttled rate): 3 s by default
  (probe_requests off). The latency makes the fresh rate the round trips' (8 / 20 ms): with
  none it was what two shared cores gave, which varied from one run to the next, and a
  recovered client, its limiter open, read as not recovered after a lucky fresh one.
- sporadic: 20 KBs x 1000 jobs, 20 ms a page, 2% of ListImportJobs answered with a 429 at
  random: wall / the same listing without the throttles.
- early throttle: one 50-page listing, 20 ms a page, the 2nd request answered with the fake's
  default throttle (ThrottlingException, HTTP 400): extra seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from qconnect_async import QConnectClient, QConnectError, RateController
from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, median, qconnect_client, runs_of

GOAL_SPORADIC, GOAL_EARLY = 1.25, 0.5


def goal_recovery(throttled_rate: float) -> float:
    """Seconds a recovery may take: max(3 s, the controller's probe_requests at the rate)."""
    return max(3.0, RateController().probe_requests / throttled_rate)


@dataclass(frozen=True)
class Sizes:
    throttled_for: float = 8.0
    throttled_rate: float = 2.0
    fresh_for: float = 3.0
    window: float = 0.5
    give_up: float = 25.0
    workers: int = 8
    sporadic_kbs: int = 20
    sporadic_jobs: int = 1000
    sporadic_share: float = 0.02
    latency: float = 0.02
    early_pages: int = 50
    runs: int = 3


FULL = Sizes()
SMOKE = Sizes(
    throttled_for=1.0, fresh_for=1.0, give_up=3.0, sporadic_kbs=4, sporadic_jobs=200,
    early_pages=5,
)  # fmt: skip


# -- recovery ----------------------------------------------------------------------------------


async def _load(
    client: QConnectClient, kbs: list[str], workers: int, until: float, done: list[float]
) -> None:
    """Workers list one-page KBs back to back until ``until``; ``done`` gets each page's time."""

    async def worker(i: int) -> None:
        n = i
        while time.perf_counter() < until:
            try:
                async for _ in client.list_import_jobs(kbs[n % len(kbs)]).pages():
                    done.append(time.perf_counter())
            except QConnectError:
                pass  # a listing that ran out of attempts: the next one goes on
            n += workers

    await asyncio.gather(*(worker(i) for i in range(workers)))


def _rate_in(done: list[float], end: float, window: float) -> float:
    return sum(1 for t in done if end - window < t <= end) / window


async def _recovery(server: RemoteQConnectServer, kbs: list[str], sizes: Sizes) -> float:
    server.clear_faults()
    server.set_latency(sizes.latency, "ListImportJobs")
    async with qconnect_client(server) as fresh:
        done: list[float] = []
        start = time.perf_counter()
        await _load(fresh, kbs, sizes.workers, start + sizes.fresh_for, done)
    # The fresh client's steady throughput: its second half (slow start excluded).
    half = sizes.fresh_for / 2
    fresh_rate = len([t for t in done if t > start + half]) / half
    async with qconnect_client(server) as client:
        server.set_rate_limit(sizes.throttled_rate, burst=1)
        done = []
        lifted_at = time.perf_counter() + sizes.throttled_for
        load = asyncio.ensure_future(
            _load(client, kbs, sizes.workers, lifted_at + sizes.give_up, done)
        )
        await asyncio.sleep(sizes.throttled_for)
        server.set_rate_limit(None)
        lifted_at = time.perf_counter()
        recovered = math.inf  # not within give_up: reported as "> give_up"
        while time.perf_counter() < lifted_at + sizes.give_up:
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            if now - lifted_at >= sizes.window and (
                _rate_in(done, now, sizes.window) >= 0.9 * fresh_rate
            ):
                recovered = now - lifted_at
                break
        load.cancel()
        await asyncio.gather(load, return_exceptions=True)
    server.clear_faults()
    return recovered


# -- sporadic throttles ------------------------------------------------------------------------


async def _listing_wall(server: RemoteQConnectServer, kbs: list[str]) -> float:
    async with qconnect_client(server) as client:
        start = time.perf_counter()
        async for _ in client.list_import_jobs_many(kbs, fail_fast=False):
            pass
        return time.perf_counter() - start


async def _sporadic(
    server: RemoteQConnectServer, kbs: list[str], sizes: Sizes, seed: int
) -> tuple[float, int]:
    server.clear_faults()
    server.set_latency(sizes.latency, "ListImportJobs")
    clean = await _listing_wall(server, kbs)
    server.random_faults(
        sizes.sporadic_share,
        seed=seed,
        operations=["ListImportJobs"],
        errors=[("ThrottlingException", 429)],
    )
    server.reset_stats()
    noisy = await _listing_wall(server, kbs)
    throttled = server.stats.throttled
    server.clear_faults()
    return noisy / clean, throttled


# -- one early throttle ------------------------------------------------------------------------


async def _early(server: RemoteQConnectServer, kb: str, sizes: Sizes, throttle: bool) -> float:
    server.clear_faults()
    server.set_latency(sizes.latency, "ListImportJobs")
    async with qconnect_client(server) as client:
        start = time.perf_counter()
        pages = 0
        async for _ in client.list_import_jobs(kb).pages():
            pages += 1
            if pages == 1:
                # The same control call in both runs, so that only the throttle differs.
                if throttle:
                    server.throttle("ListImportJobs", times=1)
                else:
                    _ = server.stats
        wall = time.perf_counter() - start
    server.clear_faults()
    return wall


async def _measure(server: RemoteQConnectServer, sizes: Sizes, runs: int) -> Section:
    server.reset()
    one_page = server.seed(sizes.workers * 2, 50)
    recoveries = [await _recovery(server, one_page, sizes) for _ in range(max(1, runs // 3))]
    server.reset()
    kbs = server.seed(sizes.sporadic_kbs, sizes.sporadic_jobs)
    sporadic = [await _sporadic(server, kbs, sizes, seed) for seed in range(1, runs + 1)]
    server.reset()
    (long_kb,) = server.seed(1, sizes.early_pages * 100)
    extra = []
    for _ in range(runs):
        clean = await _early(server, long_kb, sizes, throttle=False)
        extra.append(await _early(server, long_kb, sizes, throttle=True) - clean)
    recovery = median(recoveries)
    goal = goal_recovery(sizes.throttled_rate)
    ratio = median([r for r, _ in sporadic])
    early = median(extra)
    rows = [
        Row(
            "sendrate.recovery",
            f"Recovery: {sizes.throttled_for:g} s at {sizes.throttled_rate:g} req/s, then no limit",
            (
                f"{recovery:.2f} s to >= 90% of a fresh client"
                if math.isfinite(recovery)
                else f"not within {sizes.give_up:g} s (>= 90% of a fresh client)"
            ),
            f"<= {goal:g} s (max(3 s, probe_requests' time))",
            recovery <= goal,
        ),
        Row(
            "sendrate.sporadic",
            f"Sporadic {sizes.sporadic_share:.0%} throttles, {sizes.sporadic_kbs} KBs x "
            f"{sizes.sporadic_jobs} jobs",
            f"{ratio:.2f}x the wall without throttles "
            f"({median([float(t) for _, t in sporadic]):.0f} throttles)",
            f"<= {GOAL_SPORADIC:g}x",
            ratio <= GOAL_SPORADIC,
        ),
        Row(
            "sendrate.early_throttle",
            f"One throttle (400) on the 2nd request of a {sizes.early_pages}-page listing",
            f"{early:+.2f} s",
            f"<= {GOAL_EARLY:g} s",
            early <= GOAL_EARLY,
        ),
    ]
    note = (
        f"Send rate: {int(sizes.latency * 1000)} ms a page (set_latency) for every row; "
        f"recovery with {sizes.workers} workers listing one-page KBs on one "
        f"client, throughput in {sizes.window:g} s windows against a fresh client's steady rate "
        f"(its first half excluded); medians over {runs} run(s) ({len(recoveries)} for "
        "recovery); every client default QConnectClient(max_concurrency=8)."
    )
    # null: not recovered within give_up (JSON has no infinity)
    finite = [r if math.isfinite(r) else None for r in recoveries]
    data = {"recovery_s": finite, "sporadic": sporadic, "early_extra_s": extra}
    return Section("sendrate", rows, [note], data)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure the send-rate rows."""
    sizes = SMOKE if smoke else FULL
    return asyncio.run(_measure(server, sizes, runs_of(sizes.runs, smoke, runs)))

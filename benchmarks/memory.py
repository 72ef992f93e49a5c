"""Peak traced memory while streaming many jobs from many KBs into a slow consumer.

tracemalloc starts after the client is opened: botocore's model loading is a one-off cost of
opening a client, not memory per job.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from dataclasses import dataclass

from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, qconnect_client

GOAL_MB, STRETCH_MB = 30, 10
MB = 1_000_000


@dataclass(frozen=True)
class Sizes:
    kbs: int = 20
    jobs_per_kb: int = 5000
    #: the consumer sleeps `pause` seconds after every `pause_every` jobs
    pause_every: int = 100
    pause: float = 0.015


FULL = Sizes()
SMOKE = Sizes(kbs=2, jobs_per_kb=300)


async def _measure(server: RemoteQConnectServer, sizes: Sizes) -> Section:
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    async with qconnect_client(server) as client:
        gc.collect()
        tracemalloc.start()
        try:
            jobs = 0
            slept = 0.0
            start = time.perf_counter()
            async for _ in client.list_import_jobs_many(kbs):
                jobs += 1
                if jobs % sizes.pause_every == 0:
                    nap = time.perf_counter()
                    await asyncio.sleep(sizes.pause)
                    slept += time.perf_counter() - nap
            wall = time.perf_counter() - start
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        width = client.max_concurrency
    expected = sizes.kbs * sizes.jobs_per_kb
    peak_mb = peak / MB
    rows = [
        Row(
            "memory.peak",
            f"Peak traced memory: {expected:,} jobs from {sizes.kbs} KBs, slow consumer",
            f"{peak_mb:.1f} MB ({jobs:,} jobs)",
            f"<= {GOAL_MB} MB (stretch {STRETCH_MB} MB)",
            peak_mb <= GOAL_MB and jobs == expected,
        )
    ]
    pace = "the consumer" if slept > 0.8 * wall else "the service"
    note = (
        f"Memory: tracemalloc peak (1 MB = 10^6 bytes) in the client, started after the client "
        f"was opened (botocore's model loading is not per-job memory); "
        f"list_import_jobs_many(<{sizes.kbs} KBs>) on QConnectClient() (max_concurrency={width}) "
        f"into a consumer that awaits asyncio.sleep({sizes.pause:g}) after every "
        f"{sizes.pause_every} jobs (it slept {slept:.2f} s of the run's {wall:.2f} s: {pace} "
        "set the pace); one run."
    )
    data = {
        "peak_bytes": peak,
        "current_bytes_at_end": current,
        "jobs": jobs,
        "expected_jobs": expected,
        "wall_s": wall,
        "consumer_slept_s": slept,
        "pause_every": sizes.pause_every,
        "pause_s": sizes.pause,
        "max_concurrency": width,
    }
    return Section("memory", rows, [note], data)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure the peak traced memory of a long fan-out (one run: not a timing)."""
    return asyncio.run(_measure(server, SMOKE if smoke else FULL))

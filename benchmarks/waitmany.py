"""Requests to wait for many import jobs: one `wait_for_import_jobs` call against one
`wait_for_import_job` call per job, gathered.

50 jobs over 5 knowledge bases (10 each, each KB holding only those); the fake completes
each job 1 s after it started (on its clock). The count is the fake's own (`ServerStats`):
every GetImportJob and ListImportJobs sent from the first wait to the last job seen ended.
Run it alone: `python -m benchmarks --only waitmany`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from qconnect_async import QConnectClient
from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, median, qconnect_client, runs_of

GOAL = 0.25  # the one call's requests, at most this share of the gathered waits'
CSV = b"Name,Content\nHello,Hi there\n"
_WAITS = ("GetImportJob", "ListImportJobs")


@dataclass(frozen=True)
class Sizes:
    kbs: int = 5
    jobs_per_kb: int = 10
    complete_after: float = 1.0


FULL = Sizes()
SMOKE = Sizes(kbs=2, jobs_per_kb=3, complete_after=0.2)

Wait = Callable[[QConnectClient, list[tuple[str, str]]], Awaitable[int]]


async def _one_call(client: QConnectClient, jobs: list[tuple[str, str]]) -> int:
    async with client.wait_for_import_jobs(jobs) as stream:
        return len([job async for job in stream])


async def _gathered(client: QConnectClient, jobs: list[tuple[str, str]]) -> int:
    ended = await asyncio.gather(*(client.wait_for_import_job(kb, job) for kb, job in jobs))
    return len(ended)


async def _requests(server: RemoteQConnectServer, sizes: Sizes, wait: Wait) -> tuple[int, float]:
    """Start the jobs, then wait for them with `wait`: the waits' requests and wall time."""
    server.reset()
    server.set_job_completion(after_reads=None, after_seconds=sizes.complete_after)
    kbs = [server.create_knowledge_base(f"kb-{i}") for i in range(sizes.kbs)]
    async with qconnect_client(server, max_concurrency=10) as client:
        jobs = [
            (kb, (await client.start_import_job(kb, CSV)).import_job_id)
            for kb in kbs
            for _ in range(sizes.jobs_per_kb)
        ]
        server.reset_stats()
        started = time.perf_counter()
        ended = await wait(client, jobs)
        wall = time.perf_counter() - started
    assert ended == len(jobs), (ended, len(jobs))
    requests = server.stats.requests
    return sum(requests.get(op, 0) for op in _WAITS), wall


async def _measure(sizes: Sizes, server: RemoteQConnectServer, runs: int) -> Section:
    one = [await _requests(server, sizes, _one_call) for _ in range(runs)]
    many = [await _requests(server, sizes, _gathered) for _ in range(runs)]
    one_n, many_n = median([n for n, _ in one]), median([n for n, _ in many])
    ratio = one_n / many_n
    jobs = sizes.kbs * sizes.jobs_per_kb
    rows = [
        Row(
            "waitmany.requests_ratio",
            f"Requests to wait for {jobs} jobs over {sizes.kbs} KBs: one call / {jobs} gathered",
            f"{ratio:.2f} ({one_n:g} vs {many_n:g})",
            f"<= {GOAL:g}",
            ratio <= GOAL,
        )
    ]
    note = (
        f"Waiting for many imports: {jobs} jobs, {sizes.jobs_per_kb} in each of {sizes.kbs} "
        f"KBs, each completing {sizes.complete_after:g} s after it started; requests "
        "(GetImportJob + ListImportJobs, counted by the fake) from the first wait to the last "
        f"job ended: client.wait_for_import_jobs(jobs) against asyncio.gather of {jobs} "
        f"client.wait_for_import_job(kb, job); median of {runs} runs each. Wall: "
        f"{median([w for _, w in one]):.2f} s vs {median([w for _, w in many]):.2f} s."
    )
    data = {
        "one_call_requests": [n for n, _ in one],
        "gathered_requests": [n for n, _ in many],
        "one_call_wall_s": [w for _, w in one],
        "gathered_wall_s": [w for _, w in many],
        "ratio": ratio,
    }
    return Section("waitmany", rows, [note], data)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Count the requests of both ways of waiting for many jobs."""
    return asyncio.run(_measure(SMOKE if smoke else FULL, server, runs_of(3, smoke, runs)))

"""Client CPU per 100-item ListImportJobs page: boto3, aiobotocore, capo-qconnect and ours.

Every client is opened once, warmed up on a small KB, then they list the same KB in turn,
each run interleaving them; the figure is the median of the runs' process_time per page, and
the ratios are taken within the same run. qconnect_async goes through aiobotocore's public
path (``_make_api_call``, botocore's events) for every page; capo-qconnect has its own HTTP
stack and no botocore at all.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import boto3
from capo_qconnect import AsyncQConnectClient as CapoClient

from qconnect_async import QConnectClient
from qconnect_async.testing import RemoteQConnectServer

from ._common import (
    ACCESS_KEY,
    SECRET_KEY,
    Row,
    Section,
    aiobotocore_client,
    median,
    qconnect_client,
    runs_of,
)

PAGE_SIZE = 100
#: ours / raw aiobotocore paginator (issue 11: <= 0.40 on the public path)
GOAL = 0.40
#: ours / capo-qconnect: reported; at most 1.0 is the stretch
CAPO_STRETCH = 1.0


@dataclass(frozen=True)
class Sizes:
    pages: int = 60
    warmup_pages: int = 10
    runs: int = 5


FULL = Sizes()
SMOKE = Sizes(pages=3, warmup_pages=1)

Lister = Callable[[str], Awaitable[int]]


def boto3_pages(client: Any, kb: str) -> int:
    """List a KB with boto3's paginator; the number of pages."""
    paginator = client.get_paginator("list_import_jobs")
    pages = paginator.paginate(knowledgeBaseId=kb, PaginationConfig={"PageSize": PAGE_SIZE})
    return sum(1 for _ in pages)


async def aiobotocore_pages(client: Any, kb: str) -> int:
    """List a KB with aiobotocore's paginator; the number of pages."""
    paginator = client.get_paginator("list_import_jobs")
    pages = 0
    async for _ in paginator.paginate(knowledgeBaseId=kb, PaginationConfig={"PageSize": PAGE_SIZE}):
        pages += 1
    return pages


async def capo_pages(client: CapoClient, kb: str) -> int:
    """List a KB page by page with capo-qconnect 0.11 (its own HTTP stack)."""
    pages, token = 0, None
    while True:
        if token is None:
            response = await client.list_import_jobs(kb, max_results=PAGE_SIZE)
        else:
            response = await client.list_import_jobs(kb, max_results=PAGE_SIZE, next_token=token)
        pages += 1
        token = response.get("nextToken")
        if not token:
            return pages


async def qconnect_pages(client: QConnectClient, kb: str) -> int:
    """List a KB page by page with qconnect_async; the number of pages."""
    pages = 0
    async for _ in client.list_import_jobs(kb, page_size=PAGE_SIZE).pages():
        pages += 1
    return pages


async def _measure(server: RemoteQConnectServer, sizes: Sizes, runs: int) -> Section:
    server.reset()
    warm_kb, kb = (server.seed(1, n * PAGE_SIZE)[0] for n in (sizes.warmup_pages, sizes.pages))
    boto = boto3.client(
        "qconnect",
        region_name=server.region,
        endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    try:
        async with AsyncExitStack() as stack:
            aio = await stack.enter_async_context(aiobotocore_client(server))
            ours = await stack.enter_async_context(qconnect_client(server))
            capo = await stack.enter_async_context(
                CapoClient(
                    region=server.region,
                    endpoint=server.endpoint_url,
                    credentials={"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
                    retry_max_attempts=1,
                )
            )

            async def boto_lister(kb: str) -> int:
                return boto3_pages(boto, kb)

            listers: dict[str, Lister] = {
                "boto3": boto_lister,
                "aiobotocore": lambda kb: aiobotocore_pages(aio, kb),
                "capo_qconnect": lambda kb: capo_pages(capo, kb),
                "qconnect_async": lambda kb: qconnect_pages(ours, kb),
            }
            for lister in listers.values():
                await lister(warm_kb)
            cpu: dict[str, list[float]] = {name: [] for name in listers}
            wall: dict[str, list[float]] = {name: [] for name in listers}
            seen: dict[str, list[int]] = {name: [] for name in listers}
            for _ in range(runs):
                for name, lister in listers.items():
                    gc.collect()
                    wall_start, cpu_start = time.perf_counter(), time.process_time()
                    pages = await lister(kb)
                    seen[name].append(pages)
                    cpu[name].append((time.process_time() - cpu_start) / pages)
                    wall[name].append((time.perf_counter() - wall_start) / pages)
    finally:
        boto.close()
    ms = {name: median(values) * 1000 for name, values in cpu.items()}
    # Ratios within each run (the clients interleave), then the median over runs.
    ratio = median([o / a for o, a in zip(cpu["qconnect_async"], cpu["aiobotocore"], strict=True)])
    capo_ratio = median(
        [o / c for o, c in zip(cpu["qconnect_async"], cpu["capo_qconnect"], strict=True)]
    )
    figure = "Client CPU per 100-item page"
    rows = [
        Row("cpu.boto3", f"{figure}: boto3 paginator (sync)", f"{ms['boto3']:.2f} ms"),
        Row("cpu.aiobotocore", f"{figure}: aiobotocore paginator", f"{ms['aiobotocore']:.2f} ms"),
        Row(
            "cpu.capo_qconnect",
            f"{figure}: capo-qconnect 0.11 (own HTTP stack)",
            f"{ms['capo_qconnect']:.2f} ms",
        ),
        Row(
            "cpu.qconnect_async",
            f"{figure}: qconnect_async pages()",
            f"{ms['qconnect_async']:.2f} ms",
        ),
        Row(
            "cpu.ratio",
            "CPU ratio qconnect_async / aiobotocore",
            f"{ratio:.2f}x",
            f"<= {GOAL:.2f}x",
            ratio <= GOAL,
        ),
        Row(
            "cpu.capo_ratio",
            "CPU ratio qconnect_async / capo-qconnect",
            f"{capo_ratio:.2f}x",
            f"report (stretch <= {CAPO_STRETCH:.1f}x)",
            None,
        ),
    ]
    note = (
        f"CPU: time.process_time of the client process per page, median over {runs} run(s) of "
        f"{sizes.pages} pages each (after a {sizes.warmup_pages}-page warm-up); clients opened "
        "once, default configs, same endpoint, PageSize 100."
    )
    data = {
        "pages_per_run": sizes.pages,
        "pages_seen_runs": seen,
        "runs": runs,
        "cpu_ms_per_page": ms,
        "cpu_ms_per_page_runs": {n: [v * 1000 for v in vs] for n, vs in cpu.items()},
        "wall_ms_per_page": {n: median(vs) * 1000 for n, vs in wall.items()},
        "ratio": ratio,
        "capo_ratio": capo_ratio,
    }
    return Section("cpu", rows, [note], data)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure the client CPU per page of the four clients."""
    sizes = SMOKE if smoke else FULL
    return asyncio.run(_measure(server, sizes, runs_of(sizes.runs, smoke, runs)))

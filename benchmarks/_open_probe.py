"""One cold open: `python -m benchmarks._open_probe --client NAME --endpoint-url URL ...`.

A new process imports the client's library first (an application imports at start-up), then
runs one event loop in which a probe task sleeps 1 ms at a time and records its longest gap
while another task opens a client and makes its first call (a one-page listing). Prints one
JSON line: the longest gap and the open + call wall, in seconds. ``--client none`` opens
nothing: the other task sleeps ``--seconds``, and the gap is the probe's own floor (what the
OS scheduler and the interpreter cause with no work of ours on the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from aiobotocore.session import AioSession

from qconnect_async import QConnectClient

from ._common import ACCESS_KEY, SECRET_KEY


async def _qconnect_async(endpoint_url: str, region: str, kb: str) -> None:
    client = QConnectClient(
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    async with client:
        async for _ in client.list_import_jobs(kb):
            pass


async def _aiobotocore(endpoint_url: str, region: str, kb: str) -> None:
    async with AioSession().create_client(
        "qconnect",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as client:
        await client.list_import_jobs(knowledgeBaseId=kb)


CLIENTS: dict[str, Callable[[str, str, str], Awaitable[None]]] = {
    "qconnect_async": _qconnect_async,
    "aiobotocore": _aiobotocore,
}


async def _probe(work: Awaitable[None]) -> tuple[float, float]:
    """(the longest gap of a 1 ms ticker, the work's wall), in seconds."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)  # ticking before the open starts
    gaps.clear()
    started = time.perf_counter()
    try:
        await work
    finally:
        wall = time.perf_counter() - started
        done.set()
        await ticker
    return max(gaps), wall


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._open_probe")
    parser.add_argument("--client", choices=[*sorted(CLIENTS), "none"], required=True)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--kb", required=True)
    parser.add_argument("--seconds", type=float, default=0.2, help="--client none: its wait")
    args = parser.parse_args()
    if args.client == "none":
        work: Awaitable[None] = asyncio.sleep(args.seconds)
    else:
        work = CLIENTS[args.client](args.endpoint_url, args.region, args.kb)
    gap, wall = asyncio.run(_probe(work))
    print(json.dumps({"longest_gap": gap, "wall": wall}))


if __name__ == "__main__":
    main()

"""cProfile over qconnect_async's per-page path: where does a page's client CPU go?

The profiler's clock is time.process_time, so time spent waiting for the server is left out.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sysconfig
import time
from pathlib import Path

import qconnect_async
from qconnect_async.testing import RemoteQConnectServer

from ._common import qconnect_client
from .cpu import PAGE_SIZE, qconnect_pages

_FuncKey = tuple[str, int, str]


def _prefixes() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths["purelib"], paths["platlib"], paths["stdlib"]}
    roots.add(str(Path(qconnect_async.__file__).resolve().parents[1]))
    roots.add(str(Path(__file__).resolve().parents[1]))
    return sorted((root.rstrip("/") + "/" for root in roots), key=len, reverse=True)


def _where(key: _FuncKey, prefixes: list[str]) -> str:
    file, line, name = key
    if file == "~":
        return name
    for prefix in prefixes:
        if file.startswith(prefix):
            file = file[len(prefix) :]
            break
    return f"{file}:{line}({name})"


def _table(stats: pstats.Stats, sort: int, top: int, pages: int) -> list[str]:
    prefixes = _prefixes()
    entries = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(entries.items(), key=lambda item: item[1][sort], reverse=True)[:top]
    lines = [f"{'ncalls':>9} {'tottime':>8} {'cumtime':>8} {'cum/page':>9}  function"]
    for key, (_, ncalls, tottime, cumtime, _) in ranked:
        per_page = cumtime / pages * 1000
        lines.append(
            f"{ncalls:>9} {tottime:8.3f} {cumtime:8.3f} {per_page:7.3f}ms  {_where(key, prefixes)}"
        )
    return lines


async def _profile(server: RemoteQConnectServer, pages: int, top: int) -> str:
    server.reset()
    warm_kb, kb = (server.seed(1, n * PAGE_SIZE)[0] for n in (5, pages))
    async with qconnect_client(server) as client:
        await qconnect_pages(client, warm_kb)
        profiler = cProfile.Profile(time.process_time)
        start = time.process_time()
        profiler.enable()
        listed = await qconnect_pages(client, kb)
        profiler.disable()
        cpu = time.process_time() - start
    stats = pstats.Stats(profiler)
    out = [
        f"cProfile of `async for page in client.list_import_jobs(kb).pages()`: {listed} pages "
        f"of {PAGE_SIZE}, {cpu / listed * 1000:.2f} ms CPU per page under the profiler "
        "(profiling inflates it; see the cpu section for the real figure).",
        "",
        "ncalls counts every resumption of a coroutine or generator; times are CPU seconds.",
        "",
        f"Top {top} by cumulative time:",
        *_table(stats, 3, top, listed),
        "",
        f"Top {top} by total (own) time:",
        *_table(stats, 2, top, listed),
    ]
    return "\n".join(out)


def run(server: RemoteQConnectServer, *, pages: int = 200, top: int = 15) -> str:
    """Profile `pages` pages of qconnect_async's page path; the report as text."""
    return asyncio.run(_profile(server, pages, top))

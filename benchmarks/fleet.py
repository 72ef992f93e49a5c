"""A fleet sharing one quota: N processes, each with its own client, one service rate limit.

The members (``_fleet_worker``) open their clients first, then are released together; the
server counts the throttles. ``run_fleet`` launches every fleet row, this section's and
``fleet_redis``'s: a client name (an entry of ``_fleet_worker.CLIENTS``), a member count, an
``option`` for the members (the redis client's URL and key), and ``events`` for what happens
during a run (Redis stopped and restarted).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from operator import itemgetter
from pathlib import Path

from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, median, runs_of
from .throttled import Sizes

GOAL_WALL, GOAL_THROTTLED = 1.3, 0.08
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FleetSizes(Sizes):
    """The throttled scenario's sizes, listed by ``members`` processes at once."""

    members: int = 4
    kbs: int = 40
    jobs_per_kb: int = 1200
    width: int = 8
    runs: int = 1


FULL = FleetSizes()
SMOKE = FleetSizes(members=2, kbs=4, jobs_per_kb=200, width=4, rate=200.0, burst=3)


@dataclass(frozen=True)
class FleetOutcome:
    """One run of one fleet: the fleet's wall (the slowest member's) and each member's."""

    wall: float
    member_walls: list[float]
    requests: int
    throttled: int
    jobs: int
    unique: int  # distinct import job ids, summed over members (their KB shares are disjoint)
    failed: int
    early: int  # throttles answered within the first second after the release
    #: when the server answered each throttle, seconds since the release (``--json``)
    throttled_at: tuple[float, ...]

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else float("nan")


#: Something done during a run: (when, as a fraction of ``sizes.ideal`` after the release; what).
Event = tuple[float, Callable[[], None]]


def run_fleet(
    server: RemoteQConnectServer,
    kbs: list[str],
    sizes: FleetSizes,
    client: str,
    *,
    option: str | None = None,
    events: Sequence[Event] = (),
) -> FleetOutcome:
    """One run: start the members, wait until all are ready, release them, collect.

    ``option`` is passed to every member (``--option``). Each action of ``events`` is called
    ``fraction * sizes.ideal`` seconds after the release, in time order, from one thread
    started right after the go and joined before this returns (see ``_timeline``).
    """
    shares = [kbs[i :: sizes.members] for i in range(sizes.members)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), *sys.path])}
    procs = []
    for share in shares:
        cmd = [
            sys.executable, "-m", "benchmarks._fleet_worker",
            "--client", client,
            "--endpoint", server.endpoint_url,
            "--region", server.region,
            "--kbs", ",".join(share),
            "--page-size", str(sizes.page_size),
            "--width", str(sizes.width),
        ]  # fmt: skip
        if option is not None:
            cmd += ["--option", option]
        procs.append(
            subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        )
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a fleet member did not start: {line!r}")
        # Re-setting the limit refills the bucket: every run starts from a full burst.
        server.set_rate_limit(sizes.rate, burst=sizes.burst)
        server.reset_stats()
        start = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        with _timeline(events, start, sizes.ideal):
            results = []
            for proc in procs:
                out, _ = proc.communicate(timeout=600)
                results.append(json.loads(out.strip().splitlines()[-1]))
            # The last member's own wall (from its release): process exits are not listing time.
            wall = max(r["wall"] for r in results)
            if not 0 < wall <= time.perf_counter() - start:
                raise RuntimeError(f"a member reported an impossible wall: {wall!r}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        server.set_rate_limit(None)
    stats = server.stats
    return FleetOutcome(
        wall=wall,
        member_walls=[r["wall"] for r in results],
        requests=stats.total_requests,
        throttled=stats.throttled,
        jobs=sum(int(r["jobs"]) for r in results),
        unique=sum(int(r["unique"]) for r in results),
        failed=sum(int(r["failed"]) for r in results),
        early=sum(t < 1.0 for t in stats.throttled_at),
        throttled_at=tuple(stats.throttled_at),
    )


@contextmanager
def _timeline(events: Sequence[Event], start: float, ideal: float) -> Iterator[None]:
    """Call each action at ``start + fraction * ideal`` (perf_counter) from one thread.

    The thread is joined on the way out. When the run fails, the actions not yet due are
    skipped (the error is not delayed by them); an action that raises ends the timeline, and
    its error is raised once the run has ended.
    """
    skip = threading.Event()
    errors: list[BaseException] = []

    def timeline() -> None:
        for fraction, action in sorted(events, key=itemgetter(0)):
            if skip.wait(max(0.0, start + fraction * ideal - time.perf_counter())):
                return
            try:
                action()
            except BaseException as error:  # raised in the launcher's thread, after the join
                errors.append(error)
                return

    thread = threading.Thread(target=timeline, name="fleet-events")
    thread.start()
    try:
        yield
    except BaseException:
        skip.set()
        raise
    finally:
        thread.join()
    if errors:
        raise errors[0]


def fleet_rows(
    prefix: str, label: str, outcomes: list[FleetOutcome], sizes: FleetSizes, *, goal: bool
) -> Row:
    """The row of one fleet variant: wall/ideal (median member, worst member), throttled."""
    ratio = median([o.wall for o in outcomes]) / sizes.ideal
    members = [w / sizes.ideal for o in outcomes for w in o.member_walls]
    share = median([o.throttled_share for o in outcomes])
    failed = max(o.failed for o in outcomes)
    value = (
        f"{ratio:.2f}x ideal (members: median {statistics.median(members):.2f}x, "
        f"worst {max(members):.2f}x), {share:.1%} throttled, {failed} KBs failed"
    )
    figure = f"Fleet {sizes.members} x own client, {sizes.rate:g} req/s: {label}"
    if not goal:
        return Row(prefix, figure, value)
    expected = sizes.kbs * sizes.jobs_per_kb
    jobs = min(o.jobs for o in outcomes)
    met = ratio <= GOAL_WALL and share <= GOAL_THROTTLED and failed == 0 and jobs == expected
    return Row(prefix, figure, value, f"<= {GOAL_WALL}x, <= {GOAL_THROTTLED:.0%}", met)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """The fleet rows: qconnect_async and aiobotocore adaptive, alternating, same sizes."""
    sizes = SMOKE if smoke else FULL
    n = runs_of(sizes.runs, smoke, runs)
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    outcomes: dict[str, list[FleetOutcome]] = {"qconnect_async": [], "aiobotocore_adaptive": []}
    for _ in range(n):
        for name, got in outcomes.items():
            got.append(run_fleet(server, kbs, sizes, name))
    ours = fleet_rows(
        "fleet.qconnect_async", "qconnect_async", outcomes["qconnect_async"], sizes, goal=True
    )
    theirs = fleet_rows(
        "fleet.aiobotocore_adaptive",
        "aiobotocore adaptive",
        outcomes["aiobotocore_adaptive"],
        sizes,
        goal=False,
    )
    faster = median([o.wall for o in outcomes["qconnect_async"]]) < median(
        [o.wall for o in outcomes["aiobotocore_adaptive"]]
    )
    if ours.met is not None:
        goal, met = ours.goal + ", < aiobotocore", ours.met and faster
        ours = Row(ours.key, ours.figure, ours.value, goal, met)
    note = (
        f"Fleet: {sizes.members} processes (python -m benchmarks._fleet_worker), each with its "
        f"own client, one set_rate_limit({sizes.rate:g}, burst={sizes.burst}); {sizes.kbs} KBs x "
        f"{sizes.jobs_per_kb} jobs split between them ({sizes.pages} pages), {sizes.width} in "
        f"flight each; members open their clients, then are released together; wall = the "
        f"slowest member's, from its release to its last job; ideal = ({sizes.pages} - "
        f"{sizes.burst}) / {sizes.rate:g} = {sizes.ideal:.2f} s; throttles counted at the "
        f"server. Median over {n} run(s)."
    )
    data = {
        "runs": n,
        "ideal_s": sizes.ideal,
        "rows": {k: [asdict(o) for o in v] for k, v in outcomes.items()},
    }
    return Section("fleet", [ours, theirs], [note], data)

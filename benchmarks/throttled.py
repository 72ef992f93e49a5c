"""Throttled fan-out: the service serves 40 requests/s (burst 5) to 16 requests in flight.

Rows: aiobotocore as users write it (one paginator per KB under a semaphore, each retry mode)
and qconnect_async's list_import_jobs_many. Every row gets a fresh client and a full bucket.
`run_quota` does the same at the published Q in Connect quota, 10 req/s (adaptive mode and
qconnect_async, by default and probing in requests, only: each run takes 12 s). `run_long`:
qconnect_async alone, 60 s listings at 10 and 2 req/s, one run each: a probe's cost shows over
many probes, not in a 12 s row; each run's throttles split by phase (``PhaseCounter``: cold
start, finding the rate, probes).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiobotocore.config import AioConfig

from qconnect_async import AdaptiveRateLimiter, QConnectClient, QConnectError, RateController
from qconnect_async.testing import RemoteQConnectServer

from ._common import (
    Row,
    Section,
    aiobotocore_client,
    aiobotocore_fan_out,
    median,
    qconnect_client,
    runs_of,
)

MODES = ("legacy", "standard", "adaptive")
GOAL_WALL, GOAL_THROTTLED = 1.1, 0.05
#: the 12 s row at the published quota (10 req/s): the issue's goal is 6%, not the 40 req/s 5%
GOAL_THROTTLED_QUOTA = 0.06


@dataclass(frozen=True)
class Sizes:
    kbs: int = 20
    jobs_per_kb: int = 600
    page_size: int = 100
    width: int = 16
    rate: float = 40.0
    burst: int = 5
    runs: int = 5

    @property
    def pages(self) -> int:
        return self.kbs * -(-self.jobs_per_kb // self.page_size)

    @property
    def ideal(self) -> float:
        """The burst covers its pages at once; the rest come at the rate."""
        return max(self.pages - self.burst, 0) / self.rate


FULL = Sizes()
SMOKE = Sizes(kbs=4, jobs_per_kb=200, width=4, rate=200.0, burst=3)
QUOTA = Sizes(rate=10.0, runs=2)
QUOTA_SMOKE = Sizes(kbs=2, jobs_per_kb=200, width=4, rate=50.0, burst=3)
#: 60 s at the published quota and at a small one: 600 and 120 pages of 100, 20 KBs
LONG = (Sizes(jobs_per_kb=3000, rate=10.0, runs=1), Sizes(jobs_per_kb=600, rate=2.0, runs=1))
LONG_SMOKE = (
    Sizes(kbs=2, jobs_per_kb=400, width=4, rate=50.0, burst=3, runs=1),
    Sizes(kbs=2, jobs_per_kb=400, width=4, rate=20.0, burst=3, runs=1),
)
#: the long rows' goals: throttled share, wall / ideal (by rate)
GOAL_LONG = {10.0: (0.04, 1.05), 2.0: (0.05, 1.05)}
#: the long rows' second client: alone on its quota, probing in requests (off by default)
ALONE_PROBE_REQUESTS = 40.0
#: how a row names that client's controller
ALONE = f"RateController(probe_requests={ALONE_PROBE_REQUESTS:g})"


@dataclass(frozen=True)
class Outcome:
    """One row of one run."""

    wall: float
    requests: int
    throttled: int
    failed: int
    jobs: int
    #: when the server answered each throttle, seconds since the row started (``--json``):
    #: a cold start's throttles come in the first tenths of a second, a probe's alone
    throttled_at: tuple[float, ...] = ()
    #: the client's throttles by phase (``PhaseCounter``): cold start, finding the rate, probes
    phases: tuple[int, int, int] = (0, 0, 0)

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else float("nan")


#: Lists the KBs; returns (jobs listed, KBs whose listing raised).
Listing = Callable[[], Awaitable[tuple[int, int]]]


class PhaseCounter(RateController):
    """A RateController that counts the throttles it is told of, by phase.

    Cold start: a throttle of a send made before the first congestion event ended the slow
    start (its round's overshoot). Finding the rate: the throttles after it, up to the one
    after which the controller holds a measured level (a full plateau with
    ``probe_requests``; any cut that measured accepted answers without). Probes: the rest,
    the cost of staying able to recover.
    """

    def __init__(self, **constants: Any) -> None:
        super().__init__(**constants)
        self.phases = [0, 0, 0]
        self._first_cut = math.inf
        self._found = False

    def on_throttle(self, now: float, sent_at: float) -> bool:
        """Count the throttle in its phase, then decide as RateController does."""
        cold = sent_at < self._first_cut
        measured = self.acc_value > 0
        cut = super().on_throttle(now, sent_at)
        self.phases[0 if cold else 2 if self._found else 1] += 1
        if cut and self._first_cut == math.inf:
            self._first_cut = now
        elif cut and not cold:
            full = self.plateau > 0 and self.plateau == self._plateau_for(self.w_max, 1.0)
            self._found = self._found or full or (self.probe_requests == 0 and measured)
        return cut


async def _timed(
    server: RemoteQConnectServer,
    sizes: Sizes,
    listing: Listing,
    counter: PhaseCounter | None = None,
) -> Outcome:
    # Re-setting the limit refills the bucket: every row starts from a full burst.
    server.set_rate_limit(sizes.rate, burst=sizes.burst)
    server.reset_stats()
    start = time.perf_counter()
    jobs, failed = await listing()
    wall = time.perf_counter() - start
    stats = server.stats
    phases = (
        (0, 0, 0) if counter is None else (counter.phases[0], counter.phases[1], counter.phases[2])
    )
    return Outcome(
        wall, stats.total_requests, stats.throttled, failed, jobs, stats.throttled_at, phases
    )


async def _aiobotocore_row(
    server: RemoteQConnectServer, kbs: list[str], sizes: Sizes, mode: str
) -> Outcome:
    config = AioConfig(max_pool_connections=max(10, sizes.width), retries={"mode": mode})
    async with aiobotocore_client(server, config) as client:

        async def listing() -> tuple[int, int]:
            ids, failed = await aiobotocore_fan_out(
                client, kbs, width=sizes.width, page_size=sizes.page_size
            )
            return len(ids), failed

        return await _timed(server, sizes, listing)


async def _qconnect_row(
    server: RemoteQConnectServer,
    kbs: list[str],
    sizes: Sizes,
    controller: RateController | None = None,
) -> Outcome:
    """One fresh client lists the KBs; ``controller`` (a fresh one per call) for its limiter."""
    limiter = None if controller is None else AdaptiveRateLimiter(controller=controller)
    async with qconnect_client(server, max_concurrency=sizes.width, rate_limiter=limiter) as client:

        async def listing() -> tuple[int, int]:
            listed = failed = 0
            many = _many(client, kbs, sizes)
            try:
                async for _ in many:
                    listed += 1
            except ExceptionGroup as group:
                failed = len(group.exceptions)
            except QConnectError:
                failed = 1
            return listed, failed

        counter = controller if isinstance(controller, PhaseCounter) else None
        return await _timed(server, sizes, listing, counter)


def _many(client: QConnectClient, kbs: list[str], sizes: Sizes) -> Any:
    # fail_fast=False lists every KB it can, as gather(return_exceptions=True) does.
    return client.list_import_jobs_many(kbs, page_size=sizes.page_size, fail_fast=False)


async def _measure(
    server: RemoteQConnectServer,
    sizes: Sizes,
    runs: int,
    *,
    section: str = "throttled",
    modes: tuple[str, ...] = MODES,
    alone: bool = False,
) -> Section:
    server.reset()
    kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
    names = [*(f"aiobotocore_{mode}" for mode in modes), "qconnect_async"]
    names += ["qconnect_async_alone"] if alone else []
    outcomes: dict[str, list[Outcome]] = {name: [] for name in names}
    try:
        for _ in range(runs):
            for mode in modes:
                outcome = await _aiobotocore_row(server, kbs, sizes, mode)
                outcomes[f"aiobotocore_{mode}"].append(outcome)
            outcomes["qconnect_async"].append(await _qconnect_row(server, kbs, sizes))
            if alone:
                outcome = await _qconnect_row(server, kbs, sizes, _alone())
                outcomes["qconnect_async_alone"].append(outcome)
    finally:
        server.set_rate_limit(None)
    expected = sizes.kbs * sizes.jobs_per_kb
    max_share = GOAL_THROTTLED_QUOTA if section == "throttled_quota" else GOAL_THROTTLED
    rows = [_row(section, name, outcomes[name], sizes, expected, max_share) for name in names]
    note = (
        f"Throttled: set_rate_limit({sizes.rate:g}, burst={sizes.burst}); {sizes.kbs} KBs x "
        f"{sizes.jobs_per_kb} jobs ({sizes.pages} pages of {sizes.page_size}), {sizes.width} in "
        f"flight; ideal = ({sizes.pages} - {sizes.burst}) / {sizes.rate:g} = {sizes.ideal:.2f} s. "
        f"aiobotocore: gather over one paginator per KB under Semaphore({sizes.width}), "
        f"return_exceptions=True, AioConfig(max_pool_connections={max(10, sizes.width)}, "
        'retries={"mode": ...}) with default attempts; qconnect_async: '
        f"QConnectClient(max_concurrency={sizes.width}), list_import_jobs_many(fail_fast=False). "
        f"Medians over {runs} run(s) (KBs failed: worst run; jobs: worst run); throttled share = "
        "server-counted throttles / requests of the row; fresh client and full bucket per row."
        + (
            f" qconnect_async alone: the same client with AdaptiveRateLimiter(controller={ALONE})."
            if alone
            else ""
        )
    )
    data = {
        "runs": runs,
        "ideal_s": sizes.ideal,
        "expected_jobs": expected,
        "rows": {name: [asdict(o) for o in runs_] for name, runs_ in outcomes.items()},
    }
    return Section(section, rows, [note], data)


def _row(
    section: str,
    name: str,
    outcomes: list[Outcome],
    sizes: Sizes,
    expected: int,
    max_share: float = GOAL_THROTTLED,
) -> Row:
    ratio = median([o.wall for o in outcomes]) / sizes.ideal
    share = median([o.throttled_share for o in outcomes])
    failed = max(o.failed for o in outcomes)
    jobs = min(o.jobs for o in outcomes)
    phases = f" ({_phases(outcomes)})" if name.endswith("_alone") else ""
    value = (
        f"{ratio:.2f}x ideal, {share:.1%} throttled{phases}, {failed}/{sizes.kbs} KBs failed, "
        f"{jobs:,} jobs"
    )
    label = name.replace("aiobotocore_", "aiobotocore ").replace("_alone", "") + (
        " retries" if name.startswith("aiobotocore") else " list_import_jobs_many"
    )
    if name.endswith("_alone"):
        label += f", {ALONE}"
    figure = f"Throttled {sizes.rate:g} req/s: {label}"
    if not name.startswith("qconnect"):
        return Row(f"{section}.{name}", figure, value)
    goal = f"<= {GOAL_WALL}x, <= {max_share:.0%}, 0 failed, {expected:,} jobs"
    met = ratio <= GOAL_WALL and share <= max_share and failed == 0 and jobs == expected
    return Row(f"{section}.{name}", figure, value, goal, met)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure every row of the throttled fan-out."""
    sizes = SMOKE if smoke else FULL
    return asyncio.run(_measure(server, sizes, runs_of(sizes.runs, smoke, runs)))


def run_quota(
    server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None
) -> Section:
    """The same fan-out at the published quota (10 req/s): adaptive mode and qconnect_async."""
    sizes = QUOTA_SMOKE if smoke else QUOTA
    n = runs_of(sizes.runs, smoke, runs)
    measure = _measure(server, sizes, n, section="throttled_quota", modes=("adaptive",), alone=True)
    return asyncio.run(measure)


def run_long(
    server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None
) -> Section:
    """60 s listings at 10 and 2 req/s: qconnect_async alone, one run each by default."""
    return asyncio.run(_measure_long(server, LONG_SMOKE if smoke else LONG, smoke, runs))


async def _measure_long(
    server: RemoteQConnectServer, all_sizes: tuple[Sizes, ...], smoke: bool, runs: int | None
) -> Section:
    rows: list[Row] = []
    notes: list[str] = []
    data: dict[str, Any] = {}
    for sizes, goal_rate in zip(all_sizes, GOAL_LONG, strict=True):
        n = runs_of(sizes.runs, smoke, runs)
        server.reset()
        kbs = server.seed(sizes.kbs, sizes.jobs_per_kb)
        outcomes: list[Outcome] = []
        alone_outcomes: list[Outcome] = []
        try:
            for _ in range(n):  # interleaved; a fresh controller (no state carried) per run
                outcomes.append(await _qconnect_row(server, kbs, sizes, PhaseCounter()))
                alone_outcomes.append(await _qconnect_row(server, kbs, sizes, _alone()))
        finally:
            server.set_rate_limit(None)
        expected = sizes.kbs * sizes.jobs_per_kb
        key = f"rate_{goal_rate:g}"
        rows.append(_long_row(key, outcomes, sizes, expected, GOAL_LONG[goal_rate]))
        rows.append(
            _long_row(
                f"{key}_alone",
                alone_outcomes,
                sizes,
                expected,
                GOAL_LONG[goal_rate],
                ALONE,
            )
        )
        notes.append(
            f"Throttled, long: set_rate_limit({sizes.rate:g}, burst={sizes.burst}); "
            f"{sizes.kbs} KBs x {sizes.jobs_per_kb} jobs ({sizes.pages} pages of "
            f"{sizes.page_size}), {sizes.width} in flight; ideal = ({sizes.pages} - "
            f"{sizes.burst}) / {sizes.rate:g} = {sizes.ideal:.2f} s; qconnect_async as in the "
            f"throttled rows, a fresh client and a full bucket; median over {n} run(s)."
        )
        data[key] = {
            "runs": n,
            "ideal_s": sizes.ideal,
            "expected_jobs": expected,
            "rows": {
                "qconnect_async": [asdict(o) for o in outcomes],
                "qconnect_async_alone": [asdict(o) for o in alone_outcomes],
            },
        }
    return Section("throttled_long", rows, notes, data)


def _alone() -> PhaseCounter:
    """A fresh controller probing in requests (off by default): no state from another run."""
    return PhaseCounter(probe_requests=ALONE_PROBE_REQUESTS)


def _phases(outcomes: list[Outcome]) -> str:
    """Each run's throttles as the client counted them: cold start + finding + probes."""
    runs = ", ".join("+".join(str(n) for n in o.phases) for o in outcomes)
    return f"cold start + finding + probes: {runs}"


def _long_row(
    key: str,
    outcomes: list[Outcome],
    sizes: Sizes,
    expected: int,
    goal: tuple[float, float],
    controller: str = "",
) -> Row:
    ratio = median([o.wall for o in outcomes]) / sizes.ideal
    share = median([o.throttled_share for o in outcomes])
    failed = max(o.failed for o in outcomes)
    jobs = min(o.jobs for o in outcomes)
    throttles = median([float(o.throttled) for o in outcomes])
    value = (
        f"{ratio:.2f}x ideal, {share:.1%} throttled ({throttles:.0f}; {_phases(outcomes)}), "
        f"{failed}/{sizes.kbs} KBs failed, {jobs:,} jobs"
    )
    figure = (
        f"Throttled {sizes.rate:g} req/s, {sizes.pages} pages ({sizes.ideal:.0f} s): "
        "qconnect_async list_import_jobs_many" + (f", {controller}" if controller else "")
    )
    max_share, max_ratio = goal
    met = ratio <= max_ratio and share <= max_share and failed == 0 and jobs == expected
    goal_text = f"<= {max_ratio}x, <= {max_share:.0%}, 0 failed, {expected:,} jobs"
    return Row(f"throttled_long.{key}", figure, value, goal_text, met)

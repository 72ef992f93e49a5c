"""Many accounts and Regions: 2 accounts x 3 Regions, each pair its own quota, on one fake.

Each (account, Region) pair has its own rate limit (10 req/s, burst 5, as AWS's per-pair
quota); the KBs are spread evenly over the six pairs. The other account is reached by STS
AssumeRole on the same server. Rows, each from a full bucket:
- qconnect_async's QConnectRouter (role_name), one list_import_jobs_many over every ARN;
  beside it the same router given the caller's account_id (no GetCallerIdentity first);
- what a user writes today: one QConnectClient per pair (the role's keys assumed once),
  asyncio.gather over their list_import_jobs_many;
- aiobotocore: one client per pair (adaptive retries), gather over one paginator per KB.
Then the same with one pair's quota at 2 req/s: the other five should not notice.
A pair's ideal: (its pages - burst) / its rate; its time: when its last job arrived. When its
first job arrived is noted too: the router's start-up (GetCallerIdentity, AssumeRole, opens)
is in it, while the client-per-pair rows assume their role before the clock starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

import boto3
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from qconnect_async import QConnectClient, QConnectError, QConnectRouter
from qconnect_async.testing import RemoteQConnectServer

from ._common import ACCESS_KEY, SECRET_KEY, Row, Section, median, runs_of

GOAL_WALL, GOAL_THROTTLED = 1.15, 0.10
OTHER = "222222222222"
REGIONS = ("us-east-1", "us-west-2", "eu-west-2")


@dataclass(frozen=True)
class Sizes:
    kbs: int = 60
    jobs_per_kb: int = 600
    rate: float = 10.0
    burst: int = 5
    slow_rate: float = 2.0
    width: int = 8
    runs: int = 1

    def ideal(self, kbs: int, rate: float) -> float:
        pages = kbs * -(-self.jobs_per_kb // 100)
        return max(pages - self.burst, 0) / rate


FULL = Sizes()
SMOKE = Sizes(kbs=6, jobs_per_kb=1000, rate=100.0, slow_rate=40.0)

Pair = tuple[str, str]


@dataclass
class Outcome:
    wall: float
    #: seconds from the start until each pair's last job arrived
    finished: dict[str, float] = field(default_factory=dict)
    #: seconds from the start until each pair's first job arrived
    first: dict[str, float] = field(default_factory=dict)
    jobs: int = 0
    unique: int = 0
    requests: int = 0
    throttled: int = 0


def _key(pair: Pair) -> str:
    return f"{pair[0]}/{pair[1]}"


class _Clock:
    """When each pair's first and last jobs arrived, and the job ids seen."""

    def __init__(self, pair_of: dict[str, Pair]) -> None:
        self.start = time.perf_counter()
        self.pair_of = pair_of
        self.last: dict[str, float] = {}
        self.first: dict[str, float] = {}
        self.ids: list[str] = []

    def saw(self, kb_id: str, job_id: str) -> None:
        self.ids.append(job_id)
        pair, now = _key(self.pair_of[kb_id]), time.perf_counter() - self.start
        self.last[pair] = now
        self.first.setdefault(pair, now)


def _assume(server: RemoteQConnectServer) -> dict[str, str]:
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    role = f"arn:aws:iam::{OTHER}:role/importer"
    found = sts.assume_role(RoleArn=role, RoleSessionName="bench")["Credentials"]
    sts.close()
    return {
        "aws_access_key_id": found["AccessKeyId"],
        "aws_secret_access_key": found["SecretAccessKey"],
        "aws_session_token": found["SessionToken"],
    }


def _keys(pair: Pair, server: RemoteQConnectServer, role: dict[str, str]) -> dict[str, str]:
    if pair[0] == server.account_id:
        return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
    return role


async def _router(
    server: RemoteQConnectServer,
    kbs: dict[Pair, list[str]],
    clock: _Clock,
    account_id: str | None = None,
) -> None:
    arns = [
        f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb}"
        for (account, region), ids in kbs.items()
        for kb in ids
    ]
    async with QConnectRouter(
        endpoint_url=server.endpoint_url,
        sts_endpoint_url=server.endpoint_url,
        role_name="importer",
        account_id=account_id,
    ) as router:
        # A KB that fails (throttled past its attempts) shows as jobs missing, as in the other
        # rows' gather(return_exceptions=True).
        with contextlib.suppress(ExceptionGroup, QConnectError):
            async for job in router.list_import_jobs_many(arns, fail_fast=False):
                clock.saw(job.knowledge_base_id, job.import_job_id)


async def _today(
    server: RemoteQConnectServer, kbs: dict[Pair, list[str]], clock: _Clock, role: dict[str, str]
) -> None:
    async def one(pair: Pair, ids: list[str]) -> None:
        async with QConnectClient(
            region_name=pair[1], endpoint_url=server.endpoint_url, **_keys(pair, server, role)
        ) as client:
            async for job in client.list_import_jobs_many(ids, fail_fast=False):
                clock.saw(job.knowledge_base_id, job.import_job_id)

    await asyncio.gather(*(one(pair, ids) for pair, ids in kbs.items()), return_exceptions=True)


async def _aiobotocore(
    server: RemoteQConnectServer,
    kbs: dict[Pair, list[str]],
    clock: _Clock,
    role: dict[str, str],
    width: int,
) -> None:
    config = AioConfig(max_pool_connections=max(10, width), retries={"mode": "adaptive"})

    async def pair_of(pair: Pair, ids: list[str]) -> None:
        async with get_session().create_client(
            "qconnect",
            region_name=pair[1],
            endpoint_url=server.endpoint_url,
            config=config,
            **_keys(pair, server, role),
        ) as client:
            gate = asyncio.Semaphore(width)
            paginator = client.get_paginator("list_import_jobs")

            async def one(kb: str) -> None:
                async with gate:
                    async for page in paginator.paginate(knowledgeBaseId=kb):
                        for job in page["importJobSummaries"]:
                            clock.saw(kb, job["importJobId"])

            await asyncio.gather(*(one(kb) for kb in ids), return_exceptions=True)

    await asyncio.gather(*(pair_of(p, ids) for p, ids in kbs.items()), return_exceptions=True)


Runner = Callable[[_Clock], Awaitable[None]]


async def _timed(
    server: RemoteQConnectServer,
    sizes: Sizes,
    slow: tuple[Pair, bool],
    pair_of: dict[str, Pair],
    run: Runner,
) -> Outcome:
    # Re-setting the limits refills every bucket: each row starts full. The slow pair's own
    # limit is the more specific one: removed for the even rows.
    (account, region), slowed = slow
    server.set_rate_limit(sizes.rate, burst=sizes.burst)
    rate = sizes.slow_rate if slowed else None
    server.set_rate_limit(rate, burst=sizes.burst, account=account, region=region)
    server.reset_stats()
    clock = _Clock(pair_of)
    await run(clock)
    stats = server.stats
    return Outcome(
        time.perf_counter() - clock.start,
        dict(clock.last),
        dict(clock.first),
        len(clock.ids),
        len(set(clock.ids)),
        stats.total_requests,
        stats.throttled,
    )


async def _measure(server: RemoteQConnectServer, sizes: Sizes, runs: int) -> Section:
    server.reset()
    pairs = [(account, region) for account in (server.account_id, OTHER) for region in REGIONS]
    per_pair = sizes.kbs // len(pairs)
    kbs = {
        pair: server.seed(per_pair, sizes.jobs_per_kb, account=pair[0], region=pair[1])
        for pair in pairs
    }
    pair_of = {kb: pair for pair, ids in kbs.items() for kb in ids}
    role = _assume(server)
    rows_of: dict[str, Runner] = {
        "router": lambda clock: _router(server, kbs, clock),
        # The caller's account given: no GetCallerIdentity before the first requests.
        "router_account_id": lambda clock: _router(server, kbs, clock, server.account_id),
        "today": lambda clock: _today(server, kbs, clock, role),
        "aiobotocore": lambda clock: _aiobotocore(server, kbs, clock, role, sizes.width),
    }
    slow = pairs[-1]
    outcomes: dict[str, list[Outcome]] = {}
    try:
        for _ in range(runs):
            for scenario, slowed in (("even", False), ("slow", True)):
                for name, run in rows_of.items():
                    outcome = await _timed(server, sizes, (slow, slowed), pair_of, run)
                    outcomes.setdefault(f"{scenario}.{name}", []).append(outcome)
    finally:
        server.set_rate_limit(None)
        server.set_rate_limit(None, account=slow[0], region=slow[1])
    expected = per_pair * len(pairs) * sizes.jobs_per_kb
    ideal = sizes.ideal(per_pair, sizes.rate)
    rows = []
    for key, got in outcomes.items():
        scenario, name = key.split(".")
        rows.append(_row(key, scenario, name, got, ideal, expected, _key(slow)))
    note = (
        f"{len(pairs)} pairs (2 accounts, the second by STS AssumeRole, x {len(REGIONS)} Regions), "
        f"each set_rate_limit({sizes.rate:g}, burst={sizes.burst}); {per_pair} KBs x "
        f"{sizes.jobs_per_kb} jobs per pair; a pair's ideal = (pages - burst) / rate = "
        f"{ideal:.2f} s. 'slow': {_key(slow)} at {sizes.slow_rate:g} req/s, the ratio is the "
        "worst of the other five pairs. router: QConnectRouter(role_name=...) "
        "list_import_jobs_many over every ARN (router_account_id: given account_id=, the "
        "caller's, so no GetCallerIdentity comes first); today: a QConnectClient per pair, "
        "gather over "
        f"their list_import_jobs_many; aiobotocore: a client per pair (adaptive retries), "
        f"gather over a paginator per KB under Semaphore({sizes.width}). Medians over {runs} "
        "run(s); throttled share = server-counted throttles / requests."
    )
    starts = ", ".join(
        f"{key} {median([max(o.first.values(), default=float('nan')) for o in got]):.2f} s"
        for key, got in outcomes.items()
    )
    start_note = (
        "Start-up, the median over the runs of the last pair's first job (the router's "
        "includes GetCallerIdentity, AssumeRole and the opens; today's role is assumed before "
        f"the clock starts): {starts}."
    )
    data = {
        "ideal_s": ideal,
        "expected_jobs": expected,
        "rows": {key: [asdict(o) for o in got] for key, got in outcomes.items()},
    }
    return Section("router", rows, [note, start_note], data)


def _row(
    key: str,
    scenario: str,
    name: str,
    got: list[Outcome],
    ideal: float,
    expected: int,
    slow: str,
) -> Row:
    def worst(outcome: Outcome) -> float:
        times = [t for pair, t in outcome.finished.items() if scenario == "even" or pair != slow]
        return max(times, default=float("nan")) / ideal

    ratio = median([worst(o) for o in got])
    share = median([o.throttled / o.requests if o.requests else float("nan") for o in got])
    jobs = min(o.unique if o.unique == o.jobs else -1 for o in got)
    shown = f"{jobs:,} jobs once" if jobs >= 0 else "repeats"
    value = f"{ratio:.2f}x ideal, {share:.1%} throttled, {shown}"
    what = "slowest pair" if scenario == "even" else f"other 5 pairs, {slow} at its own"
    figure = f"Router ({what}): {name}"
    if name != "router":
        return Row(f"router.{key}", figure, value)
    if scenario == "even":
        goal = f"<= {GOAL_WALL}x, <= {GOAL_THROTTLED:.0%}, {expected:,} jobs once"
        met = ratio <= GOAL_WALL and share <= GOAL_THROTTLED and jobs == expected
    else:
        goal = f"<= {GOAL_WALL}x each, {expected:,} jobs once"
        met = ratio <= GOAL_WALL and jobs == expected
    return Row(f"router.{key}", figure, value, goal, met)


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """Measure the router's rows, and what users write without it."""
    sizes = SMOKE if smoke else FULL
    return asyncio.run(_measure(server, sizes, runs_of(sizes.runs, smoke, runs)))

"""QConnectRouter over HTTP against the fake: two accounts (one reached by STS AssumeRole on the
same server) by two Regions, each pair its own data, client, send rate and rate limit."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import Counter
from typing import Any

import boto3
import pytest
from aiobotocore.session import AioSession

from qconnect_async import (
    CredentialsError,
    PaginationLoopError,
    QConnectClient,
    QConnectRouter,
    ResourceNotFoundError,
    RetryPolicy,
    ThrottlingError,
    ValidationError,
)
from qconnect_async.testing import QConnectServer

OWN = "123456789012"  # the account of the tests' default keys (moto's default)
OTHER = "222222222222"  # reached by assuming a role there (moto's STS on the server)
REGIONS = ("us-east-1", "eu-west-2")
PAIRS = [(account, region) for account in (OWN, OTHER) for region in REGIONS]
MISSING_JOB = "00000000-0000-4000-8000-000000000000"


def arn(account: str, region: str, kb_id: str) -> str:
    return f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb_id}"


def seed(server: QConnectServer, kbs_per_pair: int = 2, jobs: int = 150) -> dict[str, Any]:
    """KBs in each pair (a different number of jobs per pair); their ARNs, pair by ARN."""
    found: dict[str, Any] = {}
    for n, (account, region) in enumerate(PAIRS):
        for _ in range(kbs_per_pair):
            kb = server.create_knowledge_base(account=account, region=region)
            server.add_import_jobs(kb, jobs + n, account=account, region=region)
            found[arn(account, region, kb)] = (account, region)
    return found


def router_on(server: QConnectServer, **options: Any) -> QConnectRouter:
    options.setdefault("role_name", "importer")
    return QConnectRouter(
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        sts_endpoint_url=server.endpoint_url,
        **options,
    )


async def test_knowledge_bases_of_two_accounts_by_two_regions_are_listed_each_once(
    qconnect_server: QConnectServer,
) -> None:
    """ARNs of four pairs in one listing: every job of every KB once, one client per pair."""
    kbs = seed(qconnect_server)
    async with router_on(qconnect_server) as router:
        jobs = [job async for job in router.list_import_jobs_many(kbs)]
        assert sorted(router.open_places) == sorted(PAIRS)
    per_pair = Counter(kbs[job.knowledge_base_arn] for job in jobs)
    assert per_pair == {pair: 2 * (150 + n) for n, pair in enumerate(PAIRS)}
    assert len({job.import_job_id for job in jobs}) == len(jobs)


async def test_a_bare_id_goes_to_the_default_account_and_region(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare ID is the caller's account in region_name; with no Region at all, refused."""
    kb = qconnect_server.create_knowledge_base(region="us-east-1")
    qconnect_server.add_import_jobs(kb, 3, region="us-east-1")
    async with router_on(qconnect_server) as router:
        assert len([job async for job in router.list_import_jobs(kb)]) == 3
        assert router.open_places == [(OWN, "us-east-1")]
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    async with QConnectRouter(endpoint_url=qconnect_server.endpoint_url) as router:
        with pytest.raises(ValidationError, match="region_name"):
            router.list_import_jobs(kb)


async def test_errors_name_the_account_and_region_they_came_from(
    qconnect_server: QConnectServer,
) -> None:
    """A missing job of a KB in the other account is a ResourceNotFoundError naming its pair."""
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="eu-west-2")
    async with router_on(qconnect_server) as router:
        with pytest.raises(ResourceNotFoundError) as caught:
            await router.get_import_job(arn(OTHER, "eu-west-2", kb), MISSING_JOB)
    assert (caught.value.account_id, caught.value.region) == (OTHER, "eu-west-2")
    assert f"account_id={OTHER} region=eu-west-2" in str(caught.value)


async def test_errors_are_built_naming_their_pair_before_they_reach_the_router(
    qconnect_server: QConnectServer,
) -> None:
    """The pair's client knows its account and Region: the error of a failed attempt, as the
    retry hook sees it inside the client, names them, as do the call's final error and a
    listing's loop error; each pair's errors name that pair."""
    seen: list[Any] = []
    kbs = {
        pair: qconnect_server.create_knowledge_base(account=pair[0], region=pair[1])
        for pair in PAIRS
    }
    for pair, kb in kbs.items():
        qconnect_server.add_import_jobs(kb, 30, account=pair[0], region=pair[1])
    named: dict[tuple[str, str], list[Any]] = {}
    async with router_on(qconnect_server, retry=RetryPolicy(on_retry=seen.append)) as router:
        for pair, kb in kbs.items():
            qconnect_server.fail("GetImportJob", times=1, knowledge_base_id=kb)
            with pytest.raises(ResourceNotFoundError) as missing:
                await router.get_import_job(arn(*pair, kb), MISSING_JOB)
            qconnect_server.repeat_token(times=1, knowledge_base_id=kb)
            with pytest.raises(PaginationLoopError) as looped:
                _ = [job async for job in router.list_import_jobs(arn(*pair, kb), page_size=10)]
            named[pair] = [seen.pop().cause, missing.value, looped.value]
    assert not seen
    for pair, errors in named.items():
        assert [(error.account_id, error.region) for error in errors] == [pair] * 3


async def test_another_account_without_a_way_in_is_refused(
    qconnect_server: QConnectServer,
) -> None:
    """Without role_name or session_for, a KB of another account is a ValidationError: the
    caller's keys would silently act in the caller's account."""
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="us-east-1")
    async with router_on(qconnect_server, role_name=None) as router:
        with pytest.raises(ValidationError, match="role_name or session_for") as caught:
            await router.get_import_job(arn(OTHER, "us-east-1", kb), MISSING_JOB)
    assert caught.value.account_id == OTHER


async def test_a_session_given_per_account_is_used_for_that_account(
    qconnect_server: QConnectServer,
) -> None:
    """session_for(account) gives the account's session (keys the fake maps to the account);
    concurrent first uses of a pair open its client once (session_for asked once)."""
    qconnect_server.set_account("AKIDOTHERACCOUNT", OTHER)
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="us-east-1")
    qconnect_server.add_import_jobs(kb, 2, account=OTHER, region="us-east-1")
    asked: list[str] = []

    def session_for(account: str) -> AioSession:
        asked.append(account)
        session = AioSession()
        session.set_credentials("AKIDOTHERACCOUNT", "secret")
        return session

    async with router_on(qconnect_server, role_name=None, session_for=session_for) as router:
        pages = await asyncio.gather(
            *(router.get_import_job(arn(OTHER, "us-east-1", kb), MISSING_JOB) for _ in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(page, ResourceNotFoundError) for page in pages)
        jobs = [job async for job in router.list_import_jobs(arn(OTHER, "us-east-1", kb))]
    assert asked == [OTHER]
    assert len(jobs) == 2


async def test_a_throttled_pair_is_slowed_and_fails_alone(
    qconnect_server: QConnectServer,
) -> None:
    """One pair's quota is used up (burst 1, no refill to speak of): its listing fails after
    its first page with a ThrottlingError naming it (on_listing_done hears it), the three
    others list everything, and only its rate is cut."""
    kbs = seed(qconnect_server, kbs_per_pair=1, jobs=250)
    slow = (OTHER, "eu-west-2")
    qconnect_server.set_rate_limit(0.001, burst=1, account=slow[0], region=slow[1])
    ended: dict[str, str | None] = {}

    def done(kb_id: str, error: Exception | None) -> None:
        ended[kb_id] = None if error is None else type(error).__name__

    async with router_on(qconnect_server) as router:
        jobs = []
        listing = router.list_import_jobs_many(kbs, fail_fast=False, on_listing_done=done)
        with pytest.raises(ExceptionGroup) as caught:
            async for job in listing:
                jobs.append(job)
        rates = {pair: router.rate_limiter(*pair).rate for pair in PAIRS}
    [error] = caught.value.exceptions
    assert isinstance(error, ThrottlingError)
    assert (error.account_id, error.region) == slow
    assert Counter(kbs[job.knowledge_base_arn] for job in jobs) == {
        pair: 100 if pair == slow else 250 + n for n, pair in enumerate(PAIRS)
    }
    assert rates[slow] < math.inf
    assert ended == {
        kb.rpartition("/")[2]: "ThrottlingError" if pair == slow else None
        for kb, pair in kbs.items()
    }
    assert all(rate == math.inf for pair, rate in rates.items() if pair != slow)


async def test_a_role_that_cannot_be_assumed_is_a_credentials_error(
    qconnect_server: QConnectServer,
) -> None:
    """STS unreachable when the role is to be assumed: CredentialsError naming the pair."""
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="us-east-1")
    async with QConnectRouter(
        account_id=OWN,
        endpoint_url=qconnect_server.endpoint_url,
        sts_endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens
        role_name="importer",
    ) as router:
        with pytest.raises(CredentialsError) as caught:
            await router.get_import_job(arn(OTHER, "us-east-1", kb), MISSING_JOB)
    assert (caught.value.account_id, caught.value.region) == (OTHER, "us-east-1")


async def test_a_caller_account_that_cannot_be_learnt_is_a_credentials_error_then_retried(
    qconnect_server: QConnectServer,
) -> None:
    """STS unreachable when the caller's account is asked (no account_id): the pair's call is
    a CredentialsError naming the Region asked in, and the next call asks again."""
    kb = qconnect_server.create_knowledge_base(region="us-east-1")
    async with QConnectRouter(
        endpoint_url=qconnect_server.endpoint_url,
        sts_endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens
        role_name="importer",
    ) as router:
        for _ in range(2):
            with pytest.raises(CredentialsError, match="caller's account") as caught:
                await router.get_import_job(arn(OWN, "us-east-1", kb), MISSING_JOB)
            assert caught.value.region == "us-east-1"
        assert router.open_places == []


async def test_role_credentials_expiring_during_a_long_listing_are_refreshed_before_use(
    qconnect_server: QConnectServer,
) -> None:
    """The fake's STS credentials last 1 s and are refused after; a 30-page listing that
    outlasts them lists every job, where keys assumed once at the start are refused."""
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="us-east-1")
    qconnect_server.add_import_jobs(kb, 3000, account=OTHER, region="us-east-1")
    qconnect_server.set_role_lifetime(1.0)
    qconnect_server.set_latency(0.05, "ListImportJobs")
    async with router_on(qconnect_server) as router:
        jobs = [job async for job in router.list_import_jobs(arn(OTHER, "us-east-1", kb))]
    assert len(jobs) == 3000
    # Without refreshing: the role's keys of one AssumeRole, kept for the whole listing.
    keys = assume_role_once(qconnect_server)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, **keys) as client:
        with pytest.raises(CredentialsError, match="expired"):
            async for _ in client.list_import_jobs(kb):
                pass


def assume_role_once(server: QConnectServer) -> dict[str, str]:
    """Keys of the role in the other account, from one AssumeRole on the server."""
    sts = boto3.client("sts", endpoint_url=server.endpoint_url, region_name="us-east-1")
    role = f"arn:aws:iam::{OTHER}:role/importer"
    found = sts.assume_role(RoleArn=role, RoleSessionName="once")["Credentials"]
    sts.close()
    return {
        "aws_access_key_id": found["AccessKeyId"],
        "aws_secret_access_key": found["SecretAccessKey"],
        "aws_session_token": found["SessionToken"],
    }


async def test_every_knowledge_base_of_the_accounts_and_regions_asked_for_is_listed(
    qconnect_server: QConnectServer,
) -> None:
    """list_all_import_jobs(accounts=, regions=): the QUICK_RESPONSES KBs of every pair asked
    for, and of no other pair; KBs of other types are left out."""
    kbs = seed(qconnect_server, kbs_per_pair=1, jobs=10)
    external = qconnect_server.create_knowledge_base(
        knowledge_base_type="EXTERNAL", account=OTHER, region="us-east-1"
    )
    qconnect_server.add_import_jobs(external, 5, account=OTHER, region="us-east-1")
    qconnect_server.create_knowledge_base(account=OTHER, region="ap-southeast-2")
    async with router_on(qconnect_server) as router:
        listing = router.list_all_import_jobs(accounts=[OWN, OTHER], regions=REGIONS)
        jobs = [job async for job in listing]
    assert Counter(kbs[job.knowledge_base_arn] for job in jobs) == {
        pair: 10 + n for n, pair in enumerate(PAIRS)
    }


async def test_the_least_recently_used_client_goes_first_and_not_while_in_use(
    qconnect_server: QConnectServer,
) -> None:
    """max_clients=2: using A, B, A, C keeps A and C; with max_clients=1 a listing of A still
    in progress when B's client opens finishes on A's client, which then goes."""
    kbs = {
        (account, region): arn(
            account, region, qconnect_server.create_knowledge_base(account=account, region=region)
        )
        for account, region in PAIRS[:3]
    }
    a, b, c = PAIRS[:3]
    qconnect_server.add_import_jobs(kbs[a], 250, account=a[0], region=a[1])
    async with router_on(qconnect_server, max_clients=2) as router:
        for pair in (a, b, a, c):
            with pytest.raises(ResourceNotFoundError):
                await router.get_import_job(kbs[pair], MISSING_JOB)
        assert router.open_places == [a, c]
    async with router_on(qconnect_server, max_clients=1) as router:
        listing = router.list_import_jobs(kbs[a])
        jobs = [await anext(listing)]
        with pytest.raises(ResourceNotFoundError):
            await router.get_import_job(kbs[b], MISSING_JOB)
        assert router.open_places == [b]
        jobs += [job async for job in listing]
    assert len(jobs) == 250


async def test_requests_in_flight_are_bounded_across_all_pairs(
    qconnect_server: QConnectServer,
) -> None:
    """max_concurrency=3 over four pairs of eight clients' slots each: the server never holds
    more than three requests at once."""
    kbs = seed(qconnect_server, kbs_per_pair=3, jobs=200)
    qconnect_server.set_latency(0.02, "ListImportJobs")
    qconnect_server.reset_stats()
    async with router_on(qconnect_server, max_concurrency=3) as router:
        jobs = [job async for job in router.list_import_jobs_many(kbs)]
    assert len(jobs) == sum(3 * (200 + n) for n in range(4))
    assert 1 <= qconnect_server.stats.max_in_flight <= 3


async def test_import_jobs_are_started_waited_for_and_deleted_by_arn(
    qconnect_server: QConnectServer,
) -> None:
    """start, wait and delete a job in a KB of the other account and Region, by its ARN."""
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="eu-west-2")
    kb_arn = arn(OTHER, "eu-west-2", kb)
    csv = b"Name,Content\nhello,Hello there\n"
    async with router_on(qconnect_server) as router:
        started = await router.start_import_job(kb_arn, csv)
        done = await router.wait_for_import_job(kb_arn, started.import_job_id, timeout=30)
        assert done.status == "COMPLETE"
        await router.delete_import_job(kb_arn, started.import_job_id)
        assert router.open_places == [(OTHER, "eu-west-2")]
    assert started.knowledge_base_arn == kb_arn


async def test_nothing_secret_of_an_assumed_role_is_logged(
    qconnect_server: QConnectServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG while a role is assumed and used: STS's answer and the requests
    signed with its keys leave no secret key, session token or access key id in the logs."""
    kb = qconnect_server.create_knowledge_base(account=OTHER, region="us-east-1")
    caplog.set_level(logging.DEBUG)
    async with router_on(qconnect_server) as router:
        assert [job async for job in router.list_import_jobs(arn(OTHER, "us-east-1", kb))] == []
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "<SecretAccessKey>" in text  # botocore logged STS's answer: we see it redacted
    unredacted = r"<(?:SecretAccessKey|SessionToken|AccessKeyId)>(?!<redacted>)"
    assert re.findall(unredacted, text) == []


class _Recording:
    """A limiter that lets every send go and records the priority each one was asked with."""

    rate = math.inf

    def __init__(self) -> None:
        self.priorities: list[int] = []

    async def acquire(self, *, priority: int = 0) -> None:
        self.priorities.append(priority)

    def release(self, permit: None, outcome: Any) -> None:
        pass


async def test_the_fan_outs_are_bulk_work_and_one_kb_listings_interactive(
    qconnect_server: QConnectServer,
) -> None:
    """As on a client: the many-KB listings' requests are bulk (1), one KB's are interactive (0)."""
    kbs = seed(qconnect_server, kbs_per_pair=1, jobs=3)  # 3, 4, 5 and 6 jobs
    limiters: dict[tuple[str, str], _Recording] = {}

    def limiter_for(account: str, region: str) -> _Recording:
        return limiters.setdefault((account, region), _Recording())

    def sent() -> dict[tuple[str, str], list[int]]:
        return {pair: limiter.priorities.copy() for pair, limiter in limiters.items()}

    async with router_on(qconnect_server, rate_limiter_for=limiter_for) as router:
        assert len([job async for job in router.list_import_jobs_many(kbs)]) == 18
        many = sent()
        everywhere = router.list_all_import_jobs(regions=REGIONS, accounts=[OWN, OTHER])
        assert len([job async for job in everywhere]) == 18
        every = sent()
        first = next(iter(kbs))
        assert len([job async for job in router.list_import_jobs(first)]) == 3
        one = sent()
    assert {pair: set(p) for pair, p in many.items()} == {pair: {1} for pair in PAIRS}
    assert all(set(every[pair][len(many[pair]) :]) == {1} for pair in PAIRS)
    assert one[kbs[first]][len(every[kbs[first]]) :] == [0]


async def test_a_fan_out_width_defaults_to_the_per_client_bound_and_zero_is_refused(
    qconnect_server: QConnectServer,
) -> None:
    """max_concurrency=None lists max_concurrency_per_client KBs of a pair at once (here one:
    each KB's jobs come in one run, not interleaved); 0 is refused at once."""
    kbs = []
    for _ in range(3):
        kb = qconnect_server.create_knowledge_base(region="us-east-1")
        qconnect_server.add_import_jobs(kb, 250, region="us-east-1")  # three pages each
        kbs.append(arn(OWN, "us-east-1", kb))
    async with router_on(qconnect_server, max_concurrency_per_client=1) as router:
        with pytest.raises(ValidationError, match="max_concurrency"):
            router.list_import_jobs_many(kbs, max_concurrency=0)
        with pytest.raises(ValidationError, match="max_concurrency"):
            router.list_all_import_jobs(regions=REGIONS, max_concurrency=0)
        order = [job.knowledge_base_id async for job in router.list_import_jobs_many(kbs)]
    runs = [kb for n, kb in enumerate(order) if n == 0 or order[n - 1] != kb]
    assert len(order) == 750 and len(runs) == 3

"""QConnectRouter used like a client: the client's keyword parameters on every mirrored method,
passed through to the pair's client over HTTP; waiting for many jobs across pairs; the Region
of the AWS settings for a bare ID."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from qconnect_async import (
    DeadlineExceededError,
    ImportJob,
    QConnectClient,
    QConnectRouter,
    TransportError,
    ValidationError,
)
from qconnect_async.testing import QConnectServer

OWN = "123456789012"  # the account of the tests' default keys (moto's default)
OTHER = "222222222222"  # reached by assuming a role there (moto's STS on the server)
PAIRS = [(a, r) for a in (OWN, OTHER) for r in ("us-east-1", "eu-west-2")]
MISSING_JOB = "00000000-0000-4000-8000-000000000000"
CSV = b"Name,Content\nhello,Hello there\n"

#: The methods the router mirrors from the client.
MIRRORED = (
    "list_import_jobs",
    "list_import_jobs_many",
    "list_all_import_jobs",
    "get_import_job",
    "delete_import_job",
    "start_import_job",
    "wait_for_import_job",
    "wait_for_import_jobs",
)
#: Router-only keyword parameters: a client serves one account and Region, the router asks
#: which ones to list.
ROUTER_ONLY = {"list_all_import_jobs": {"regions", "accounts"}}


def arn(account: str, region: str, kb_id: str) -> str:
    return f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb_id}"


def router_on(server: QConnectServer, **options: Any) -> QConnectRouter:
    options.setdefault("region_name", "us-east-1")
    options.setdefault("role_name", "importer")
    return QConnectRouter(
        endpoint_url=server.endpoint_url, sts_endpoint_url=server.endpoint_url, **options
    )


def _params(method: Any, kinds: set[inspect._ParameterKind]) -> dict[str, tuple[Any, Any]]:
    """A method's parameters of ``kinds``: name -> (default, annotation)."""
    return {
        name: (p.default, p.annotation)
        for name, p in inspect.signature(method).parameters.items()
        if p.kind in kinds
    }


@pytest.mark.parametrize("name", MIRRORED)
def test_each_mirrored_method_takes_the_clients_parameters(name: str) -> None:
    """Same positional parameters, same keyword-only names, defaults and types as the
    client's method, but for the listed router-only ones: the two cannot drift apart."""
    ours, theirs = getattr(QConnectRouter, name), getattr(QConnectClient, name)
    positional = {inspect.Parameter.POSITIONAL_OR_KEYWORD}
    assert _params(ours, positional) == _params(theirs, positional)
    keywords = _params(ours, {inspect.Parameter.KEYWORD_ONLY})
    only = ROUTER_ONLY.get(name, set())
    assert only <= keywords.keys()
    assert {k: v for k, v in keywords.items() if k not in only} == _params(
        theirs, {inspect.Parameter.KEYWORD_ONLY}
    )


async def test_single_calls_end_at_their_deadline_in_the_kbs_pair(
    qconnect_server: QConnectServer,
) -> None:
    """deadline= of start, get, delete and wait reaches the pair's client: each raises
    DeadlineExceededError naming the operation, the account and the Region."""
    kb = arn(
        OTHER, "eu-west-2", qconnect_server.create_knowledge_base(account=OTHER, region="eu-west-2")
    )
    async with router_on(qconnect_server) as router:
        assert (await router.start_import_job(kb, CSV)).knowledge_base_arn == kb  # opened
        qconnect_server.set_latency(2.0)
        outcomes = await asyncio.gather(
            router.start_import_job(kb, CSV, deadline=0.2),
            router.get_import_job(kb, MISSING_JOB, deadline=0.2),
            router.delete_import_job(kb, MISSING_JOB, deadline=0.2, priority="bulk"),
            router.wait_for_import_job(kb, MISSING_JOB, deadline=0.2, max_rate_wait=5),
            return_exceptions=True,
        )
    assert all(isinstance(error, DeadlineExceededError) for error in outcomes), outcomes
    assert [(e.operation, e.account_id, e.region) for e in outcomes] == [  # type: ignore[union-attr]
        ("StartContentUpload", OTHER, "eu-west-2"),
        ("GetImportJob", OTHER, "eu-west-2"),
        ("DeleteImportJob", OTHER, "eu-west-2"),
        ("GetImportJob", OTHER, "eu-west-2"),
    ]


async def test_bad_options_are_refused_before_any_request(
    qconnect_server: QConnectServer,
) -> None:
    """A bad deadline, priority, max_rate_wait, presigned_url_ttl or content choice is a
    ValidationError before the pair's client opens: no request at all, not even STS's."""
    kb = arn(OTHER, "eu-west-2", MISSING_JOB)  # a well-formed KB ID
    async with router_on(qconnect_server) as router:
        calls = [
            router.get_import_job(kb, MISSING_JOB, deadline=0),
            router.delete_import_job(kb, MISSING_JOB, priority="urgent"),  # type: ignore[arg-type]
            router.wait_for_import_job(kb, MISSING_JOB, max_rate_wait=-1),
            router.start_import_job(kb, CSV, presigned_url_ttl=61),
            router.start_import_job(kb, CSV, upload_id="u"),
        ]
        says = ["deadline", "priority", "max_rate_wait", "1 to 60", "content or upload_id"]
        for call, said in zip(calls, says, strict=True):
            with pytest.raises(ValidationError, match=said):
                await call
        with pytest.raises(ValidationError, match="priority"):
            router.list_import_jobs(kb, priority="urgent")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="priority"):
            router.list_import_jobs_many([kb], priority="urgent")  # type: ignore[arg-type]
        assert router.open_places == []
    assert qconnect_server.stats.total_requests == 0


async def test_an_upload_is_resumed_by_its_id_in_another_region(
    qconnect_server: QConnectServer,
) -> None:
    """Every StartImportJob answer lost: the error's upload_id, given back with upload_id= (and
    presigned_url_ttl= on a new start), starts the one job from that upload, no second PUT."""
    kb_id = qconnect_server.create_knowledge_base(account=OTHER, region="eu-west-2")
    kb = arn(OTHER, "eu-west-2", kb_id)
    async with router_on(qconnect_server) as router:
        qconnect_server.lose_answers("StartImportJob", times=None)
        with pytest.raises(TransportError) as info:
            await router.start_import_job(kb, CSV, client_token="order-7", presigned_url_ttl=5)
        qconnect_server.clear_faults()
        upload_id = info.value.upload_id
        assert upload_id is not None and (info.value.account_id, info.value.region) == (
            OTHER,
            "eu-west-2",
        )
        puts = qconnect_server.stats.requests.get("PutObject", 0)
        resumed = await router.start_import_job(kb, upload_id=upload_id, client_token="order-7")
        jobs = [job async for job in router.list_import_jobs(kb)]
    assert qconnect_server.stats.requests.get("PutObject", 0) == puts
    assert [job.import_job_id for job in jobs] == [resumed.import_job_id]
    assert resumed.upload_id == upload_id and qconnect_server.uploaded(upload_id) == CSV


async def test_presigned_url_ttl_reaches_the_pairs_start_content_upload(
    qconnect_server: QConnectServer,
) -> None:
    """presigned_url_ttl=5 is sent in the StartContentUpload of the KB's account and Region;
    none, when not given."""
    qconnect_server.set_account("AKIDOTHERACCOUNT", OTHER)
    kb = arn(
        OTHER, "eu-west-2", qconnect_server.create_knowledge_base(account=OTHER, region="eu-west-2")
    )
    sent: list[object] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.loads(params["body"]).get("presignedUrlTimeToLive"))

    def session_for(account: str) -> AioSession:
        session = AioSession()
        session.set_credentials("AKIDOTHERACCOUNT", "secret")
        session.register("before-call.qconnect.StartContentUpload", record)
        return session

    async with router_on(qconnect_server, role_name=None, session_for=session_for) as router:
        await router.start_import_job(kb, CSV, presigned_url_ttl=5)
        await router.start_import_job(kb, CSV)
    assert sent == [5, None]


async def test_jobs_of_two_accounts_by_two_regions_are_waited_for_as_they_end(
    qconnect_server: QConnectServer,
) -> None:
    """wait_for_import_jobs over four pairs: each job once, FAILED ones yielded too, each
    pair's jobs polled by its own client."""
    qconnect_server.set_job_completion(after_reads=2)
    want: dict[str, str] = {}
    jobs: list[ImportJob | tuple[str, str]] = []
    async with router_on(qconnect_server) as router:
        for account, region in PAIRS:
            kb_id = qconnect_server.create_knowledge_base(account=account, region=region)
            kb = arn(account, region, kb_id)
            if (account, region) == (OTHER, "us-east-1"):
                (failed,) = qconnect_server.add_import_jobs(
                    kb_id, 1, status="FAILED", account=account, region=region
                )
                jobs.append((kb, failed))
                want[failed] = "FAILED"
            else:
                started = await router.start_import_job(kb, CSV)
                jobs.append(started)
                want[started.import_job_id] = "COMPLETE"
        ended = [job async for job in router.wait_for_import_jobs(jobs, deadline=60)]
        assert sorted(router.open_places) == sorted(PAIRS)
    assert {job.import_job_id: str(job.status) for job in ended} == want
    assert len(ended) == 4


async def test_closing_a_wait_for_many_jobs_ends_every_task(
    qconnect_server: QConnectServer,
) -> None:
    """async with ... break after the first job: no task of the wait is left running (the
    router's own STS work, an AssumeRole started ahead of a pair's first request, may still run
    until the router closes), and none of the router's once it is closed."""
    jobs = []
    for account, region in PAIRS:
        kb_id = qconnect_server.create_knowledge_base(account=account, region=region)
        (done,) = qconnect_server.add_import_jobs(kb_id, 1, account=account, region=region)
        (running,) = qconnect_server.add_import_jobs(
            kb_id, 1, status="START_IN_PROGRESS", account=account, region=region
        )
        jobs += [(arn(account, region, kb_id), done), (arn(account, region, kb_id), running)]
    before = asyncio.all_tasks()
    async with router_on(qconnect_server) as router:
        async with router.wait_for_import_jobs(jobs) as waiting:
            async for job in waiting:
                assert job.status == "COMPLETE"
                break
        left = asyncio.all_tasks() - before
        assert {t for t in left if not t.get_name().startswith("qconnect-async-sts-")} == set()
    assert asyncio.all_tasks() == before


async def test_a_bare_id_is_in_the_region_of_the_aws_settings(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without region_name a bare ID is in AWS_DEFAULT_REGION's Region, else the profile's;
    with neither it is a ValidationError before any request."""
    east = qconnect_server.create_knowledge_base(region="us-east-1")
    west = qconnect_server.create_knowledge_base(region="eu-west-2")
    qconnect_server.add_import_jobs(east, 2, region="us-east-1")
    qconnect_server.add_import_jobs(west, 3, region="eu-west-2")
    async with router_on(qconnect_server, region_name=None) as router:
        assert len([job async for job in router.list_import_jobs(east)]) == 2
        assert router.open_places == [(OWN, "us-east-1")]
    config = tmp_path / "config"
    config.write_text(
        "[profile west]\nregion = eu-west-2\n"
        "aws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    async with router_on(qconnect_server, region_name=None, profile_name="west") as router:
        assert len([job async for job in router.list_import_jobs(west)]) == 3
        assert router.open_places == [(OWN, "eu-west-2")]
    qconnect_server.reset_stats()
    async with router_on(qconnect_server, region_name=None) as router:
        with pytest.raises(ValidationError, match="needs a Region"):
            router.list_import_jobs(east)
        with pytest.raises(ValidationError, match="regions="):
            router.list_all_import_jobs()
    assert qconnect_server.stats.total_requests == 0


async def test_the_region_of_the_aws_settings_is_read_off_the_loop_as_the_router_opens(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entering the router reads the settings' Region in a worker thread, once: a bare ID
    then costs the loop no file read."""
    from qconnect_async import _router

    threads: list[str] = []

    def recording(profile_name: str | None) -> str | None:
        threads.append(threading.current_thread().name)
        return "us-east-1"

    monkeypatch.setattr(_router, "default_region", recording)
    kb = qconnect_server.create_knowledge_base(region="us-east-1")
    async with router_on(qconnect_server, region_name=None) as router:
        assert len(threads) == 1 and threads[0] != threading.main_thread().name
        assert [job async for job in router.list_import_jobs(kb)] == []
    assert len(threads) == 1

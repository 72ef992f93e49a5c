"""QConnectServer speaks the qconnect API as botocore's model describes it, over real HTTP."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from typing import Any

import boto3
import botocore.session
import pytest
from _server_helpers import NO_RETRY, WireLog, aio_client, make_client
from botocore.model import ListShape, Shape, StructureShape

from qconnect_async.testing import QConnectServer

MODEL = botocore.session.get_session().get_service_model("qconnect")


def parsed_errors(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """How botocore's parsed output breaks `shape`: required members, enums, types."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        errors = [f"{path}.{k}: missing" for k in shape.required_members if k not in value]
        for name, member in shape.members.items():
            if name in value:
                errors += parsed_errors(member, value[name], f"{path}.{name}")
        return errors
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [
            e for i, v in enumerate(value) for e in parsed_errors(shape.member, v, f"{path}[{i}]")
        ]
    if kind == "string":
        enum = shape.metadata.get("enum")
        ok = isinstance(value, str) and (not enum or value in enum)
        return [] if ok else [f"{path}: {value!r}"]
    if kind == "timestamp":
        ok = isinstance(value, datetime) and value.tzinfo is not None
        return [] if ok else [f"{path}: {value!r} not an aware datetime"]
    return []


def test_boto3_paginator_lists_every_job_page_by_page(
    qconnect_server: QConnectServer, client: Any, wire: WireLog
) -> None:
    """boto3's own paginator walks a KB's jobs in order, one request per page."""
    kb = qconnect_server.create_knowledge_base("Support")
    ids = qconnect_server.add_import_jobs(kb, 250)
    pages = list(
        client.get_paginator("list_import_jobs").paginate(
            knowledgeBaseId=kb, PaginationConfig={"PageSize": 40}
        )
    )
    assert [len(p["importJobSummaries"]) for p in pages] == [40] * 6 + [10]
    assert [j["importJobId"] for p in pages for j in p["importJobSummaries"]] == ids
    assert "nextToken" not in pages[-1]
    assert qconnect_server.stats.requests == {"ListImportJobs": 7}
    output = MODEL.operation_model("ListImportJobs").output_shape
    assert [e for p in pages for e in parsed_errors(output, p)] == []
    assert wire.count == 7


async def test_aiobotocore_lists_every_job_page_by_page(qconnect_server: QConnectServer) -> None:
    """An aiobotocore client pages through a KB with valid, modelled output."""
    kb = qconnect_server.create_knowledge_base()
    ids = qconnect_server.add_import_jobs(kb, 230)
    output = MODEL.operation_model("ListImportJobs").output_shape
    seen: list[str] = []
    async with aio_client(qconnect_server) as aio:
        paginator = aio.get_paginator("list_import_jobs")
        async for page in paginator.paginate(
            knowledgeBaseId=kb, PaginationConfig={"PageSize": 100}
        ):
            assert parsed_errors(output, page) == []
            seen += [job["importJobId"] for job in page["importJobSummaries"]]
    assert seen == ids
    assert qconnect_server.stats.requests == {"ListImportJobs": 3}


def test_default_page_size_applies_without_max_results(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """Without maxResults a page holds the server's default page size (100, settable)."""
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(kb, 120)
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 100
    qconnect_server.set_default_page_size(7)
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 7


def test_an_arn_in_a_url_path_is_refused_as_the_service_refuses_it(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """URLs cannot contain the ARN: a 400 ValidationException citing the ID's pattern."""
    kb = qconnect_server.create_knowledge_base()
    arn = qconnect_server.knowledge_base_arn(kb)
    assert arn == f"arn:aws:wisdom:us-east-1:123456789012:knowledge-base/{kb}"
    for call in (client.list_import_jobs, client.get_knowledge_base):
        with pytest.raises(client.exceptions.ValidationException) as info:
            call(knowledgeBaseId=arn)
        assert "URLs cannot contain the ARN" in str(info.value)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn"), ("eu-west-2", "aws")],
)
def test_arns_carry_the_partition_of_their_region(
    qconnect_server: QConnectServer, region: str, partition: str
) -> None:
    """A KB created in a GovCloud or China Region has an ARN of that partition."""
    client = boto3.client(
        "qconnect", endpoint_url=qconnect_server.endpoint_url, region_name=region, config=NO_RETRY
    )
    kb = client.create_knowledge_base(name="kb", knowledgeBaseType="QUICK_RESPONSES")
    arn = kb["knowledgeBase"]["knowledgeBaseArn"]
    assert arn.startswith(f"arn:{partition}:wisdom:{region}:123456789012:knowledge-base/")
    client.close()


def test_seeded_jobs_vary_as_documented(qconnect_server: QConnectServer, client: Any) -> None:
    """Seeding covers every status, metadata absent/set/empty, and connect configurations."""
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(kb, 20)
    jobs = client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]
    statuses = MODEL.shape_for("ImportJobStatus").enum
    assert {j["status"] for j in jobs} == set(statuses)
    assert {len(j["metadata"]) if "metadata" in j else None for j in jobs} == {None, 0, 2}
    sources = [j["externalSourceConfiguration"] for j in jobs if "externalSourceConfiguration" in j]
    assert len(sources) == 5
    assert all(s["configuration"]["connectConfiguration"]["instanceId"] for s in sources)
    assert all(j["createdTime"] <= j["lastModifiedTime"] for j in jobs)
    fixed = qconnect_server.add_import_jobs(
        kb, 3, status="FAILED", metadata={"k": "v"}, external_source=False
    )
    for job_id in fixed:
        job = client.get_import_job(knowledgeBaseId=kb, importJobId=job_id)["importJob"]
        assert (job["status"], job["metadata"]) == ("FAILED", {"k": "v"})
        assert "externalSourceConfiguration" not in job and job["failedRecordReport"]


def test_raw_summaries_reach_the_client_verbatim(qconnect_server: QConnectServer) -> None:
    """Unknown statuses, union members and fields are sent as given, for robustness tests."""
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(kb, 1)
    raw = {
        "status": "PAUSED",
        "importJobType": "WEB_CRAWLER",
        "externalSourceConfiguration": {
            "source": "S3",
            "configuration": {"s3Configuration": {"bucket": "b"}},
        },
        "brandNewField": [1, 2],
        "metadata": None,
    }
    job_id = qconnect_server.add_raw_import_job(kb, raw)
    bodies: list[bytes] = []
    client = make_client(qconnect_server)
    client.meta.events.register(
        "before-parse.qconnect.ListImportJobs",
        lambda response_dict, **_: bodies.append(response_dict["body"]),
    )
    page = client.list_import_jobs(knowledgeBaseId=kb)
    client.close()
    sent = json.loads(bodies[-1])["importJobSummaries"][1]
    assert sent["importJobId"] == job_id
    assert {k: sent[k] for k in raw if k != "metadata"} == {k: v for k, v in raw.items() if v}
    assert "metadata" not in sent
    assert page["importJobSummaries"][1]["status"] == "PAUSED"
    # GetImportJob and DeleteImportJob know raw jobs too.
    client = make_client(qconnect_server)
    got = client.get_import_job(knowledgeBaseId=kb, importJobId=job_id)["importJob"]
    assert got["status"] == "PAUSED"
    client.delete_import_job(knowledgeBaseId=kb, importJobId=job_id)
    assert len(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]) == 1
    client.close()


def put_csv(upload: dict[str, Any]) -> int:
    """PUT a valid quick-response CSV to an upload URL with its headers; the HTTP status."""
    body = b"Name,Content\nHello,Hi there\n"
    request = urllib.request.Request(
        upload["url"], data=body, headers=upload["headersToInclude"], method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_import_job_lifecycle(qconnect_server: QConnectServer, client: Any) -> None:
    """Upload, start, poll until COMPLETE, delete (204), then the job is gone (404)."""
    kb = client.create_knowledge_base(name="Quick", knowledgeBaseType="QUICK_RESPONSES")
    kb_id = kb["knowledgeBase"]["knowledgeBaseId"]
    assert kb["knowledgeBase"]["status"] == "ACTIVE"
    upload = client.start_content_upload(knowledgeBaseId=kb_id, contentType="text/csv")
    assert upload["headersToInclude"]["Content-Type"] == "text/csv"
    assert put_csv(upload) == 200
    started = client.start_import_job(
        knowledgeBaseId=kb_id,
        importJobType="QUICK_RESPONSES",
        uploadId=upload["uploadId"],
        metadata={"team": "support"},
        externalSourceConfiguration={
            "source": "AMAZON_CONNECT",
            "configuration": {"connectConfiguration": {"instanceId": "i-1"}},
        },
    )["importJob"]
    assert started["status"] == "START_IN_PROGRESS"
    job_id = started["importJobId"]
    # One read still sees it in progress (the default), the next sees it complete.
    statuses = [
        client.get_import_job(knowledgeBaseId=kb_id, importJobId=job_id)["importJob"]["status"]
        for _ in range(3)
    ]
    assert statuses == ["START_IN_PROGRESS", "COMPLETE", "COMPLETE"]
    deleted = client.delete_import_job(knowledgeBaseId=kb_id, importJobId=job_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    # Deleting goes the same way: one read sees DELETE_IN_PROGRESS, the next DELETED.
    get = lambda: client.get_import_job(knowledgeBaseId=kb_id, importJobId=job_id)  # noqa: E731
    assert get()["importJob"]["status"] == "DELETE_IN_PROGRESS"
    listed = client.list_import_jobs(knowledgeBaseId=kb_id)["importJobSummaries"]
    assert [(j["importJobId"], j["status"]) for j in listed] == [(job_id, "DELETED")]
    # Deleting again changes nothing (the operation is idempotent).
    client.delete_import_job(knowledgeBaseId=kb_id, importJobId=job_id)
    assert get()["importJob"]["status"] == "DELETED"


def test_a_delete_ends_after_seconds_on_the_servers_clock(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """With after_seconds, DELETE_IN_PROGRESS turns DELETED once the server's clock is there."""
    kb = qconnect_server.create_knowledge_base()
    (job_id,) = qconnect_server.add_import_jobs(kb, 1, status="COMPLETE")
    qconnect_server.set_job_completion(after_reads=None, after_seconds=60)
    client.delete_import_job(knowledgeBaseId=kb, importJobId=job_id)
    get = lambda: client.get_import_job(knowledgeBaseId=kb, importJobId=job_id)  # noqa: E731
    assert [get()["importJob"]["status"] for _ in "ab"] == ["DELETE_IN_PROGRESS"] * 2
    qconnect_server.set_clock_offset(61)
    job = get()["importJob"]
    assert job["status"] == "DELETED"
    assert job["lastModifiedTime"] > job["createdTime"]


def test_job_completion_is_configurable(qconnect_server: QConnectServer, client: Any) -> None:
    """after_reads=0 completes a started job on its first read; None/None never does."""
    kb = qconnect_server.create_knowledge_base()

    def start_and_read() -> str:
        upload = client.start_content_upload(knowledgeBaseId=kb, contentType="text/csv")
        assert put_csv(upload) == 200
        client.start_import_job(
            knowledgeBaseId=kb, importJobType="QUICK_RESPONSES", uploadId=upload["uploadId"]
        )
        return str(client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"][-1]["status"])

    qconnect_server.set_job_completion(after_reads=0)
    assert start_and_read() == "COMPLETE"
    qconnect_server.set_job_completion(after_reads=None, after_seconds=None)
    assert start_and_read() == "START_IN_PROGRESS"
    qconnect_server.set_job_completion(after_reads=None, after_seconds=0)
    assert start_and_read() == "COMPLETE"


def test_knowledge_bases_list_page_by_page(qconnect_server: QConnectServer, client: Any) -> None:
    """ListKnowledgeBases pages with tokens too; summaries carry the seeded KBs."""
    ids = qconnect_server.seed(knowledge_bases=5, jobs_per_kb=0)
    assert qconnect_server.knowledge_base_ids() == ids
    pages = list(
        client.get_paginator("list_knowledge_bases").paginate(PaginationConfig={"PageSize": 2})
    )
    assert [len(p["knowledgeBaseSummaries"]) for p in pages] == [2, 2, 1]
    assert [kb["knowledgeBaseId"] for p in pages for kb in p["knowledgeBaseSummaries"]] == ids

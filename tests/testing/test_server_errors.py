"""Bad input gets the service's error code and status, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from _server_helpers import error_of, make_client
from botocore.config import Config

from qconnect_async.testing import QConnectServer

# parameter_validation=False: let the server, not botocore, judge the input.
RAW = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
OTHER_ACCOUNT_ARN = "arn:aws:wisdom:us-east-1:999999999999:knowledge-base/{kb}"


@pytest.fixture
def client(qconnect_server: QConnectServer) -> Iterator[Any]:
    client = make_client(qconnect_server, RAW)
    yield client
    client.close()


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(kb, 3)
    return kb


BAD_LISTINGS: list[tuple[str, dict[str, Any], int, str]] = [
    ("not an ID", {"knowledgeBaseId": "not-a-kb"}, 400, "ValidationException"),
    ("upper-case ID", {"knowledgeBaseId": "{KB}"}, 400, "ValidationException"),
    ("other service's ARN", {"knowledgeBaseId": "arn:aws:s3:::bucket"}, 400, "ValidationException"),
    ("path piece", {"knowledgeBaseId": "{kb}/../x"}, 400, "ValidationException"),
    ("unknown KB", {"knowledgeBaseId": str(uuid.uuid4())}, 404, "ResourceNotFoundException"),
    ("an ARN (URLs hold IDs)", {"knowledgeBaseId": OTHER_ACCOUNT_ARN}, 400, "ValidationException"),
    ("maxResults 0", {"maxResults": 0}, 400, "ValidationException"),
    ("maxResults 101", {"maxResults": 101}, 400, "ValidationException"),
    ("maxResults -1", {"maxResults": -1}, 400, "ValidationException"),
    ("maxResults text", {"maxResults": "many"}, 400, "ValidationException"),
    ("garbage token", {"nextToken": "garbage"}, 400, "ValidationException"),
    ("empty token", {"nextToken": ""}, 400, "ValidationException"),
    ("huge token", {"nextToken": "x" * 5000}, 400, "ValidationException"),
]


@pytest.mark.parametrize(
    ("arguments", "status", "code"),
    [case[1:] for case in BAD_LISTINGS],
    ids=[case[0] for case in BAD_LISTINGS],
)
def test_bad_listing_input_gets_the_service_error(
    qconnect_server: QConnectServer,
    client: Any,
    kb: str,
    arguments: dict[str, Any],
    status: int,
    code: str,
) -> None:
    """Each bad ListImportJobs request is a 4xx with its code and a request ID."""
    arguments = {
        k: v.format(kb=kb, KB=kb.upper()) if isinstance(v, str) and "{" in v else v
        for k, v in arguments.items()
    }
    arguments.setdefault("knowledgeBaseId", kb)
    got_status, got_code, headers = error_of(lambda: client.list_import_jobs(**arguments))
    assert (got_status, got_code) == (status, code)
    assert headers["x-amzn-requestid"]
    assert qconnect_server.stats.statuses.get(500, 0) == 0


def test_a_token_only_resumes_the_listing_that_issued_it(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A valid token of one KB is refused for another: tokens are bound to their KB."""
    other = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(other, 3)
    token = client.list_import_jobs(knowledgeBaseId=kb, maxResults=1)["nextToken"]
    status, code, _ = error_of(
        lambda: client.list_import_jobs(knowledgeBaseId=other, nextToken=token)
    )
    assert (status, code) == (400, "ValidationException")
    # The same token still resumes its own listing.
    page = client.list_import_jobs(knowledgeBaseId=kb, nextToken=token)
    assert len(page["importJobSummaries"]) == 2
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, code, _ = error_of(
        lambda: client.list_import_jobs(knowledgeBaseId=kb, nextToken=tampered)
    )
    assert (status, code) == (400, "ValidationException")


def test_bad_input_to_other_operations(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """Creation, start, get and delete check their input like the service."""
    cases: list[tuple[Callable[[], Any], int, str]] = [
        (
            lambda: client.create_knowledge_base(knowledgeBaseType="QUICK_RESPONSES"),
            400,
            "ValidationException",
        ),
        (
            lambda: client.create_knowledge_base(name="x", knowledgeBaseType="NOPE"),
            400,
            "ValidationException",
        ),
        (
            lambda: client.get_knowledge_base(knowledgeBaseId=str(uuid.uuid4())),
            404,
            "ResourceNotFoundException",
        ),
        (
            lambda: client.start_import_job(knowledgeBaseId=kb, importJobType="NOPE", uploadId="u"),
            400,
            "ValidationException",
        ),
        (
            lambda: client.start_import_job(knowledgeBaseId=kb, importJobType="QUICK_RESPONSES"),
            400,
            "ValidationException",
        ),
        (
            lambda: client.start_import_job(
                knowledgeBaseId=kb,
                importJobType="QUICK_RESPONSES",
                uploadId="u",
                metadata={str(i): "v" for i in range(11)},
            ),
            400,
            "ValidationException",
        ),
        (
            lambda: client.start_import_job(
                knowledgeBaseId=kb,
                importJobType="QUICK_RESPONSES",
                uploadId="u",
                externalSourceConfiguration={"source": "AMAZON_CONNECT", "configuration": {}},
            ),
            400,
            "ValidationException",
        ),
        (
            lambda: client.get_import_job(knowledgeBaseId=kb, importJobId="nope"),
            400,
            "ValidationException",
        ),
        (
            lambda: client.get_import_job(knowledgeBaseId=kb, importJobId=str(uuid.uuid4())),
            404,
            "ResourceNotFoundException",
        ),
        (
            lambda: client.delete_import_job(knowledgeBaseId=kb, importJobId=str(uuid.uuid4())),
            404,
            "ResourceNotFoundException",
        ),
        (lambda: client.start_content_upload(knowledgeBaseId=kb), 400, "ValidationException"),
        (lambda: client.delete_knowledge_base(knowledgeBaseId=kb), 501, "NotImplementedException"),
    ]
    got = [error_of(call)[:2] for call, _, _ in cases]
    assert got == [(status, code) for _, status, code in cases]
    assert qconnect_server.stats.statuses.get(500, 0) == 0


def test_a_body_that_is_not_json_is_a_validation_error(
    qconnect_server: QConnectServer, client: Any, kb: str
) -> None:
    """A POST whose JSON body is broken gets a 400, not a crash."""

    def break_body(request: Any, **_: Any) -> None:
        request.body = b'{"importJobType": '
        request.headers["Content-Length"] = str(len(request.body))

    client.meta.events.register("before-send.qconnect.StartImportJob", break_body)
    status, code, _ = error_of(
        lambda: client.start_import_job(
            knowledgeBaseId=kb, importJobType="QUICK_RESPONSES", uploadId="u"
        )
    )
    assert (status, code) == (400, "ValidationException")
    assert qconnect_server.stats.statuses.get(500, 0) == 0


def test_any_region_is_served_and_regions_are_apart(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """A region qconnect is not offered in is served (no 500); each region has its own data."""
    client = boto3.client(
        "qconnect", endpoint_url=qconnect_server.endpoint_url, region_name="eu-west-1", config=RAW
    )
    try:
        assert client.list_knowledge_bases()["knowledgeBaseSummaries"] == []
        status, code, _ = error_of(lambda: client.list_import_jobs(knowledgeBaseId=kb))
        assert (status, code) == (404, "ResourceNotFoundException")
    finally:
        client.close()
    assert qconnect_server.stats.statuses == {200: 1, 404: 1}

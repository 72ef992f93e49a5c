"""The operations object and its Call: one value per request, errors built complete once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from qconnect_async import QConnectClient, RetryPolicy, ServiceError, ValidationError
from qconnect_async._call import INTERACTIVE, Call

KB = "aaaaaaaa-bbbb-cccc-dddd-000000000001"
JOB = "aaaaaaaa-bbbb-cccc-dddd-000000000002"


class _FailingTransport:
    """A Transport of our own: page one, then an error it builds itself (no HTTP)."""

    max_pool_connections = 10
    region_name = "us-east-1"
    partition = "aws"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.error = ServiceError("boom", code="InternalServerException", http_status=500)

    async def close(self) -> None:
        pass

    clock_offset = 0.0

    async def send(self, call: Call, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.calls.append(call)
        if call.next_token is None:
            return {"importJobSummaries": [], "nextToken": "t1"}
        raise self.error


def test_a_call_is_one_frozen_value() -> None:
    """A Call cannot change once built; it is interactive unless told otherwise; its error
    fields name the account and Region it goes to."""
    call = Call("ListImportJobs", KB, next_token="t1", deadline=5.0, region="eu-west-2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.next_token = "t2"  # type: ignore[misc]
    assert (call.priority, call.max_rate_wait) == (INTERACTIVE, None)
    assert call.error_fields() == {
        "operation": "ListImportJobs",
        "knowledge_base_id": KB,
        "upload_id": None,
        "next_token": "t1",
        "account_id": None,
        "region": "eu-west-2",
    }


async def test_every_page_is_one_call_with_its_token_and_kb() -> None:
    """Each page of a listing is one Call naming its operation, KB and token; every attempt
    of it is sent with that same value."""
    transport = _FailingTransport()
    retry = RetryPolicy(max_attempts=2)
    async with QConnectClient._with_transport(transport, retry=retry) as client:  # type: ignore[arg-type]
        with pytest.raises(ServiceError):
            async for _ in client.list_import_jobs(KB, deadline=60.0):
                pass
    assert [(c.operation, c.knowledge_base_id, c.next_token) for c in transport.calls] == [
        ("ListImportJobs", KB, None),
        ("ListImportJobs", KB, "t1"),
        ("ListImportJobs", KB, "t1"),
    ]
    assert transport.calls[1] is transport.calls[2]  # the retry: the same Call
    assert len({c.deadline for c in transport.calls}) == 1  # one deadline for the listing


async def test_an_error_reaches_the_caller_as_it_was_built() -> None:
    """The transport's error is raised as it is: nothing patches a field on its way up."""
    transport = _FailingTransport()
    retry = RetryPolicy(max_attempts=1)
    async with QConnectClient._with_transport(transport, retry=retry) as client:  # type: ignore[arg-type]
        with pytest.raises(ServiceError) as info:
            async for _ in client.list_import_jobs(KB):
                pass
    assert info.value is transport.error
    # Built without a KB or a token, it keeps none: fields come from the Call, once.
    assert (info.value.knowledge_base_id, info.value.next_token) == (None, None)


class _RefusingTransport(_FailingTransport):
    """A Transport that refuses every request, recording the Call it was given."""

    async def send(self, call: Call, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.calls.append(call)
        raise self.error


async def test_every_operation_s_call_names_the_client_s_region() -> None:
    """GetImportJob, DeleteImportJob, StartImportJob, StartContentUpload, ListImportJobs and
    ListKnowledgeBases each go out as a Call naming the Region of the client's transport,
    which the errors built from it carry."""
    transport = _RefusingTransport()
    retry = RetryPolicy(max_attempts=1)
    async with QConnectClient._with_transport(transport, retry=retry) as client:  # type: ignore[arg-type]
        with pytest.raises(ServiceError):
            await client.get_import_job(KB, JOB)
        with pytest.raises(ServiceError):
            await client.delete_import_job(KB, JOB)
        with pytest.raises(ServiceError):
            await client.start_import_job(KB, upload_id=f"{JOB}/{JOB}")
        with pytest.raises(ServiceError):
            await client.start_import_job(KB, b"Name,Content\nHi,There\n")
        with pytest.raises(ServiceError):
            _ = [job async for job in client.list_import_jobs(KB)]
        with pytest.raises(ServiceError):
            _ = [kb async for kb in client.list_knowledge_bases()]
    assert [(c.operation, c.error_fields()["region"]) for c in transport.calls] == [
        ("GetImportJob", "us-east-1"),
        ("DeleteImportJob", "us-east-1"),
        ("StartImportJob", "us-east-1"),
        ("StartContentUpload", "us-east-1"),
        ("ListImportJobs", "us-east-1"),
        ("ListKnowledgeBases", "us-east-1"),
    ]


def test_a_pool_as_large_as_max_concurrency_is_adopted_a_smaller_one_refused() -> None:
    """A transport whose pool equals max_concurrency is taken; one connection fewer is a
    ValidationError saying how to make the pool larger."""
    QConnectClient._with_transport(_FailingTransport(), max_concurrency=10)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        QConnectClient._with_transport(_FailingTransport(), max_concurrency=11)  # type: ignore[arg-type]
    assert info.value.message == (
        "the client's connection pool (10) is smaller than max_concurrency (11): it would "
        "silently become the limit; create it with AioConfig(max_pool_connections=...)"
    )

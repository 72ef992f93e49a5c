"""The models: wire names, UTC times, open enums, the tagged union, unknown fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from qconnect_async import (
    ConnectConfiguration,
    ExternalSource,
    ExternalSourceConfiguration,
    ImportJob,
    ImportJobStatus,
    ImportJobType,
    KnowledgeBase,
    KnowledgeBaseStatus,
    KnowledgeBaseType,
    UnknownConfiguration,
)


def wire_job(**overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "importJobId": "11111111-2222-3333-4444-555555555555",
        "knowledgeBaseId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "uploadId": "upload-1",
        "knowledgeBaseArn": "arn:aws:wisdom:us-east-1:123456789012:knowledge-base/"
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "importJobType": "QUICK_RESPONSES",
        "status": "COMPLETE",
        "createdTime": 1700000000.25,
        "lastModifiedTime": 1700000100,
        "metadata": {"team": "support"},
        "externalSourceConfiguration": {
            "source": "AMAZON_CONNECT",
            "configuration": {"connectConfiguration": {"instanceId": "inst-1"}},
        },
    }
    job.update(overrides)
    return job


def test_fields_are_snake_case_of_the_wire_names() -> None:
    """Every wire member is reachable under its snake_case name."""
    job = ImportJob.model_validate_json(json.dumps(wire_job()))
    assert job.import_job_id == "11111111-2222-3333-4444-555555555555"
    assert job.knowledge_base_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert job.upload_id == "upload-1"
    assert job.metadata == {"team": "support"}
    config = job.external_source_configuration
    assert config is not None
    assert config.source is ExternalSource.AMAZON_CONNECT
    assert config.configuration == ConnectConfiguration(instance_id="inst-1")


def test_timestamps_are_aware_utc() -> None:
    """The wire's epoch seconds become UTC datetimes natively (botocore's: see test_transport)."""
    job = ImportJob.model_validate_json(json.dumps(wire_job()))
    assert job.created_time == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert job.created_time.utcoffset() == job.last_modified_time.utcoffset() == timedelta(0)
    iso = ImportJob.model_validate_json(json.dumps(wire_job(createdTime="2024-01-01T12:00:00Z")))
    assert iso.created_time.utcoffset() == timedelta(0)


def test_union_members_built_in_python_are_kept() -> None:
    """A configuration given as a model (not the wire dict) is taken as it is."""
    config = ExternalSourceConfiguration(
        source=ExternalSource.AMAZON_CONNECT, configuration=ConnectConfiguration(instance_id="i")
    )
    assert config.configuration == ConnectConfiguration(instance_id="i")
    unknown = UnknownConfiguration(name="s3Configuration", raw={"bucket": "b"})
    other = ExternalSourceConfiguration(source="SALESFORCE", configuration=unknown)
    assert other.configuration is unknown
    dumped = other.model_dump(by_alias=True, mode="json")
    assert dumped["configuration"] == {"s3Configuration": {"bucket": "b"}}


def test_union_null_members_are_ignored() -> None:
    """A member sent as null beside the one set does not hide the one set."""
    raw = wire_job()
    raw["externalSourceConfiguration"]["configuration"] = {
        "connectConfiguration": {"instanceId": "inst-1"},
        "s3Configuration": None,
    }
    job = ImportJob.model_validate_json(json.dumps(raw))
    assert job.external_source_configuration is not None
    assert job.external_source_configuration.configuration == ConnectConfiguration(
        instance_id="inst-1"
    )


def test_known_enum_values_are_members() -> None:
    """A known status or type is the enum member and equals its string."""
    job = ImportJob.model_validate(wire_job())
    assert job.status is ImportJobStatus.COMPLETE
    assert job.status == "COMPLETE"
    assert job.import_job_type is ImportJobType.QUICK_RESPONSES


def test_unknown_enum_values_stay_plain_strings() -> None:
    """A status, type or source the model does not know is kept as a plain string."""
    raw = wire_job(status="ARCHIVED", importJobType="ARTICLES")
    raw["externalSourceConfiguration"]["source"] = "SALESFORCE"
    job = ImportJob.model_validate(raw)
    assert job.status == "ARCHIVED" and type(job.status) is str
    assert job.import_job_type == "ARTICLES" and type(job.import_job_type) is str
    assert job.external_source_configuration is not None
    assert job.external_source_configuration.source == "SALESFORCE"
    assert job.model_dump(by_alias=True, mode="json")["status"] == "ARCHIVED"


def wire_knowledge_base(**overrides: Any) -> dict[str, Any]:
    kb: dict[str, Any] = {
        "knowledgeBaseId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "knowledgeBaseArn": "arn:aws:wisdom:us-east-1:123456789012:knowledge-base/"
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "name": "kb",
        "knowledgeBaseType": "QUICK_RESPONSES",
        "status": "ACTIVE",
    }
    kb.update(overrides)
    return kb


def test_a_knowledge_base_type_and_status_are_open_enums() -> None:
    """A KB's known type and status are enum members; unknown ones stay plain strings."""
    known = KnowledgeBase.model_validate(wire_knowledge_base())
    assert known.knowledge_base_type is KnowledgeBaseType.QUICK_RESPONSES
    assert known.status is KnowledgeBaseStatus.ACTIVE
    new = KnowledgeBase.model_validate(
        wire_knowledge_base(knowledgeBaseType="VIDEOS", status="ARCHIVING")
    )
    assert new.knowledge_base_type == "VIDEOS" and type(new.knowledge_base_type) is str
    assert new.status == "ARCHIVING" and type(new.status) is str
    dumped = new.model_dump(by_alias=True, mode="json")
    assert (dumped["knowledgeBaseType"], dumped["status"]) == ("VIDEOS", "ARCHIVING")


def test_unknown_union_member_becomes_unknown_configuration() -> None:
    """A configuration member added later is kept with its name and raw value."""
    raw = wire_job()
    raw["externalSourceConfiguration"]["configuration"] = {"s3Configuration": {"bucket": "b"}}
    job = ImportJob.model_validate(raw)
    assert job.external_source_configuration is not None
    config = job.external_source_configuration.configuration
    assert config == UnknownConfiguration(name="s3Configuration", raw={"bucket": "b"})
    dumped = job.model_dump(by_alias=True, mode="json")
    assert dumped["externalSourceConfiguration"]["configuration"] == {
        "s3Configuration": {"bucket": "b"}
    }


def test_union_with_no_member_is_rejected() -> None:
    """An empty union is not a valid answer."""
    raw = wire_job()
    raw["externalSourceConfiguration"]["configuration"] = {}
    with pytest.raises(pydantic.ValidationError):
        ImportJob.model_validate(raw)


def test_unknown_fields_are_kept() -> None:
    """A field the model does not know survives validation and dumping."""
    job = ImportJob.model_validate(wire_job(priority=3))
    assert job.model_extra == {"priority": 3}
    assert job.model_dump(by_alias=True, mode="json")["priority"] == 3


def test_dump_by_alias_gives_the_wire_shape_back() -> None:
    """model_dump(by_alias=True, mode='json') has the camelCase keys and ISO times."""
    raw = wire_job()
    dumped = ImportJob.model_validate(raw).model_dump(by_alias=True, mode="json")
    assert set(dumped) == set(raw)
    assert dumped["createdTime"] == "2023-11-14T22:13:20.250000Z"
    assert dumped["externalSourceConfiguration"] == raw["externalSourceConfiguration"]
    again = ImportJob.model_validate(dumped)
    assert again == ImportJob.model_validate(raw)


def test_models_are_frozen() -> None:
    """Jobs cannot be changed after validation."""
    job = ImportJob.model_validate(wire_job())
    with pytest.raises(pydantic.ValidationError):
        job.status = ImportJobStatus.FAILED  # type: ignore[misc]


def test_missing_required_field_is_an_error() -> None:
    """A summary without its ID is not silently accepted."""
    raw = wire_job()
    del raw["importJobId"]
    with pytest.raises(pydantic.ValidationError):
        ImportJob.model_validate(raw)

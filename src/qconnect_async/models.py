"""Typed, frozen models of what the service returns.

Field names are the snake_case of the wire names; ``model_dump(by_alias=True, mode="json")``
gives the camelCase wire shape back. The service may add enum values, union members and
fields at any time: none of them is an error here. An unknown enum value stays a plain
``str``, an unknown union member becomes ``UnknownConfiguration``, an unknown field is kept
as an extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "ConnectConfiguration",
    "ExternalSource",
    "ExternalSourceConfiguration",
    "ImportJob",
    "ImportJobPage",
    "ImportJobStatus",
    "ImportJobType",
    "KnowledgeBase",
    "UnknownConfiguration",
]


class ImportJobStatus(StrEnum):
    """The status of an import job, as the service model knows it today."""

    START_IN_PROGRESS = "START_IN_PROGRESS"
    FAILED = "FAILED"
    COMPLETE = "COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETED = "DELETED"


class ImportJobType(StrEnum):
    """What an import job imports."""

    QUICK_RESPONSES = "QUICK_RESPONSES"


class ExternalSource(StrEnum):
    """Where an import job's external source lives."""

    AMAZON_CONNECT = "AMAZON_CONNECT"


def _utc(value: datetime) -> datetime:
    # Epoch numbers already come back in UTC; botocore's datetimes may carry tzlocal.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# Open enums: pydantic-core tries the enum first (known values become members) and falls back
# to the plain string, natively; a Python validator here cost ~30% of decoding a page.
_OPEN = Field(union_mode="left_to_right")
OpenImportJobStatus = Annotated[ImportJobStatus | str, _OPEN]
OpenImportJobType = Annotated[ImportJobType | str, _OPEN]
OpenExternalSource = Annotated[ExternalSource | str, _OPEN]


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class ConnectConfiguration(_Model):
    """The Amazon Connect instance an import job reads from."""

    instance_id: str | None = None


class UnknownConfiguration(BaseModel):
    """A union member this version does not know: its wire name and raw value."""

    model_config = ConfigDict(frozen=True)

    name: str
    raw: Any = None


Configuration = ConnectConfiguration | UnknownConfiguration
_CONFIG_MEMBERS: dict[str, type[ConnectConfiguration]] = {
    "connectConfiguration": ConnectConfiguration
}
_CONFIG_NAMES = {cls: name for name, cls in _CONFIG_MEMBERS.items()}


class ExternalSourceConfiguration(_Model):
    """The external source of an import job; ``configuration`` is a tagged union."""


    source: OpenExternalSource
    configuration: Configuration

    @model_validator(mode="before")
    @classmethod
    def _tagged_union(cls, data: Any) -> Any:
        # The wire form is {"connectConfiguration": {...}}: exactly one key names the member.
        if not isinstance(data, Mapping):
            return data
        config = data.get("configuration")
        if isinstance(config, Mapping):
            present = [(k, v) for k, v in config.items() if v is not None]
            if len(present) != 1:
                raise ValueError("a union must have exactly one member set")
            name, raw = present[0]
            member = _CONFIG_MEMBERS.get(name)
            if member is None:
                value: Configuration = UnknownConfiguration(name=name, raw=raw)
            else:
                value = member.model_validate(raw)
            data = {**data, "configuration": value}
        return data

    @model_serializer(mode="wrap")
    def _wire(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        out = handler(self)
        config = self.configuration
        if isinstance(config, UnknownConfiguration):
            out["configuration"] = {config.name: config.raw}
        else:
            out["configuration"] = {_CONFIG_NAMES[type(config)]: out["configuration"]}
        return out


class ImportJob(_Model):
    """One import job of a knowledge base (the service's ImportJobSummary)."""

    import_job_id: str
    knowledge_base_id: str
    upload_id: str
    knowledge_base_arn: str
    import_job_type: OpenImportJobType
    status: OpenImportJobStatus
    created_time: UtcDatetime
    last_modified_time: UtcDatetime
    metadata: dict[str, str] | None = None
    external_source_configuration: ExternalSourceConfiguration | None = None
    # From GetImportJob and StartImportJob only. Presigned URLs are secrets (anyone holding one
    # may read or write): SecretStr keeps them out of repr, str and dumps; get_secret_value().
    url: SecretStr | None = None
    url_expiry: UtcDatetime | None = None
    failed_record_report: SecretStr | None = None

    @model_serializer(mode="wrap")
    def _wire(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        # A listed job (an ImportJobSummary) dumps to its wire shape: no GetImportJob-only keys.
        out = handler(self)
        for name, alias in _GET_ONLY:
            if getattr(self, name) is None:
                out.pop(alias, None)
                out.pop(name, None)
        return out


_GET_ONLY = (
    ("url", "url"),
    ("url_expiry", "urlExpiry"),
    ("failed_record_report", "failedRecordReport"),
)


class KnowledgeBase(_Model):
    """One knowledge base of the account (the service's KnowledgeBaseSummary)."""

    knowledge_base_id: str
    knowledge_base_arn: str
    name: str
    knowledge_base_type: str
    status: str
    description: str | None = None
    tags: dict[str, str] | None = None


class ImportJobPage(BaseModel):
    """One page of a listing: its jobs and the token of the next page (None on the last)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[ImportJob, ...]
    next_token: str | None = None
    knowledge_base_id: str = Field(description="The knowledge base this page lists.")

"""Typed, frozen models of what the service returns.

Field names are the snake_case of the wire names; ``model_dump(by_alias=True, mode="json")``
gives the camelCase wire shape back. The service may add enum values, union members and
fields at any time: none of them is an error here. An unknown enum value stays a plain
``str``, an unknown union member becomes ``UnknownConfiguration``, an unknown field is kept
as an extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    model_serializer,
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
    "KnowledgeBasePage",
    "KnowledgeBaseStatus",
    "KnowledgeBaseType",
    "UnknownConfiguration",
]


class ImportJobStatus(StrEnum):
    """The status of an import job, as the service model knows it today.

    A job's ``status`` is one of these members, or the plain string of a status this version
    does not know yet (compare with ``==`` or ``is``: a member equals its string).
    """

    START_IN_PROGRESS = "START_IN_PROGRESS"
    FAILED = "FAILED"
    COMPLETE = "COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETED = "DELETED"


class ImportJobType(StrEnum):
    """What an import job imports."""

    QUICK_RESPONSES = "QUICK_RESPONSES"


class KnowledgeBaseType(StrEnum):
    """What a knowledge base holds; only QUICK_RESPONSES ones have import jobs."""

    EXTERNAL = "EXTERNAL"
    CUSTOM = "CUSTOM"
    QUICK_RESPONSES = "QUICK_RESPONSES"
    MESSAGE_TEMPLATES = "MESSAGE_TEMPLATES"
    MANAGED = "MANAGED"


class KnowledgeBaseStatus(StrEnum):
    """The status of a knowledge base."""

    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    ACTIVE = "ACTIVE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETED = "DELETED"


class ExternalSource(StrEnum):
    """Where an import job's external source lives."""

    AMAZON_CONNECT = "AMAZON_CONNECT"


# Open enums: pydantic-core tries the enum first (known values become members) and falls back
# to the plain string, natively: no Python validator per value on the per-page path.
_OPEN = Field(union_mode="left_to_right")
OpenImportJobStatus = Annotated[ImportJobStatus | str, _OPEN]
OpenImportJobType = Annotated[ImportJobType | str, _OPEN]
OpenExternalSource = Annotated[ExternalSource | str, _OPEN]
OpenKnowledgeBaseType = Annotated[KnowledgeBaseType | str, _OPEN]
OpenKnowledgeBaseStatus = Annotated[KnowledgeBaseStatus | str, _OPEN]


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


_CONFIG_MEMBERS: dict[str, type[ConnectConfiguration]] = {
    "connectConfiguration": ConnectConfiguration
}
_CONFIG_NAMES = {cls: name for name, cls in _CONFIG_MEMBERS.items()}
_UNKNOWN = "unknown"


def _member(value: Any) -> str:
    # The wire form is {"connectConfiguration": {...}}: the one key set names the member.
    # Instances (built in Python) are tagged by their type. dict first: JSON gives dicts, and
    # an ABC isinstance check costs more than the rest of this function.
    if type(value) is dict or isinstance(value, Mapping):
        if len(value) == 1:
            name = next(iter(value))
        else:
            present = [k for k, v in value.items() if v is not None]
            name = present[0] if len(present) == 1 else _UNKNOWN
        return name if name in _CONFIG_MEMBERS else _UNKNOWN
    return type(value).__name__


def _unknown_member(value: Any) -> Any:
    if isinstance(value, Mapping):
        present = [(k, v) for k, v in value.items() if v is not None]
        if len(present) != 1:
            raise ValueError("a union must have exactly one member set")
        name, raw = present[0]
        return {"name": name, "raw": raw}
    return value


# A tagged union that pydantic-core validates natively: the tag is one small Python call, the
# known member is unwrapped by a C itemgetter and validated as its model (no dict rebuilt).
_WireConnect = Annotated[ConnectConfiguration, BeforeValidator(itemgetter("connectConfiguration"))]
_WireUnknown = Annotated[UnknownConfiguration, BeforeValidator(_unknown_member)]
Configuration = Annotated[
    Annotated[_WireConnect, Tag("connectConfiguration")]
    | Annotated[_WireUnknown, Tag(_UNKNOWN)]
    | Annotated[ConnectConfiguration, Tag("ConnectConfiguration")]
    | Annotated[UnknownConfiguration, Tag("UnknownConfiguration")],
    Discriminator(_member),
]


class ExternalSourceConfiguration(_Model):
    """The external source of an import job; ``configuration`` is a tagged union."""

    source: OpenExternalSource
    configuration: Configuration

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
    """One import job of a knowledge base (the service's ImportJobSummary), frozen.

    Fields are the snake_case of the wire names; ``model_dump(by_alias=True, mode="json")``
    gives the camelCase wire shape back. Fields the service adds are kept as extras.

    Attributes:
        import_job_id: The job's ID.
        knowledge_base_id: The ID of its knowledge base.
        upload_id: The upload it imports (StartContentUpload's ``uploadId``).
        knowledge_base_arn: The ARN of its knowledge base.
        import_job_type: An ImportJobType, or the plain string of a type not known yet.
        status: An ImportJobStatus, or the plain string of a status not known yet.
        created_time: When it was created: a timezone-aware UTC datetime.
        last_modified_time: When it last changed: a timezone-aware UTC datetime.
        metadata: The metadata it was started with, if any.
        external_source_configuration: Where its content came from, if set.
        url: GetImportJob and StartImportJob only: a presigned URL of the imported content,
            a ``SecretStr`` (``get_secret_value()``), masked in repr, str and dumps.
        url_expiry: When ``url`` expires (UTC).
        failed_record_report: GetImportJob only, once FAILED: a presigned URL (``SecretStr``)
            of the report of the rows the service refused.
    """

    import_job_id: str
    knowledge_base_id: str
    upload_id: str
    knowledge_base_arn: str
    import_job_type: OpenImportJobType
    status: OpenImportJobStatus
    # UTC: pydantic gives UTC for the epoch numbers of the wire, and the decoding turns
    # botocore-parsed (tzlocal) times to UTC; no per-job validator needed.
    created_time: datetime
    last_modified_time: datetime
    metadata: dict[str, str] | None = None
    external_source_configuration: ExternalSourceConfiguration | None = None
    # From GetImportJob and StartImportJob only. Presigned URLs are secrets (anyone holding one
    # may read or write): SecretStr keeps them out of repr, str and dumps; get_secret_value().
    url: SecretStr | None = None
    url_expiry: datetime | None = None
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
    """One knowledge base of the account (the service's KnowledgeBaseSummary), frozen.

    Attributes:
        knowledge_base_id: Its ID.
        knowledge_base_arn: Its ARN.
        name: Its name.
        knowledge_base_type: ``QUICK_RESPONSES``, ``CUSTOM``, ``EXTERNAL``, ... (a string).
        status: ``ACTIVE``, ``CREATE_IN_PROGRESS``, ... (a string).
        description: Its description, if any.
        tags: Its tags, if any.
    """

    knowledge_base_id: str
    knowledge_base_arn: str
    name: str
    knowledge_base_type: OpenKnowledgeBaseType
    status: OpenKnowledgeBaseStatus
    description: str | None = None
    tags: dict[str, str] | None = None


class ImportJobPage(BaseModel):
    """One page of a listing of import jobs, as ``Listing.pages()`` yields it.

    Attributes:
        items: The page's jobs, in the service's order.
        next_token: The token of the next page: pass it as ``starting_token`` to resume
            there; None on the last page.
        knowledge_base_id: The knowledge base this page lists (in a merged listing, pages
            of several knowledge bases interleave).
    """

    model_config = ConfigDict(frozen=True)

    items: tuple[ImportJob, ...]
    next_token: str | None = None
    knowledge_base_id: str = Field(description="The knowledge base this page lists.")


class KnowledgeBasePage(BaseModel):
    """One page of ListKnowledgeBases, as ``Listing.pages()`` yields it.

    Attributes:
        items: The page's knowledge bases.
        next_token: The token of the next page, to resume there; None on the last page.
    """

    model_config = ConfigDict(frozen=True)

    items: tuple[KnowledgeBase, ...]
    next_token: str | None = None

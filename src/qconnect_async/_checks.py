"""Checks of the caller's arguments, made before any request is sent: one vocabulary.

A bad argument, to a constructor or to a call, is a ``ValidationError`` (also a ValueError)
raised by one of these functions; the CLI refuses its arguments with the same checks.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._call import BULK, INTERACTIVE
from ._errors import ValidationError

__all__ = [
    "MAX_PAGE_SIZE",
    "KnowledgeBaseRef",
    "account_id",
    "at_least_one",
    "content_or_upload",
    "content_source",
    "content_type",
    "deadline",
    "external_source",
    "import_job_id",
    "jobs_to_wait_for",
    "knowledge_base_id",
    "knowledge_base_ref",
    "knowledge_base_types",
    "metadata",
    "not_negative",
    "page_size",
    "presigned_url_ttl",
    "priority",
    "rate_wait",
    "region",
    "seconds",
    "short_string",
    "token",
]

#: The largest page ListImportJobs and ListKnowledgeBases allow (maxResults 1..100).
MAX_PAGE_SIZE = 100
_MAX_TOKEN = 4096

_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_UUID = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"
_ID = re.compile(_UUID)
# arn:PARTITION:wisdom:REGION:ACCOUNT:knowledge-base/ID, as the service model's pattern allows.
_KB_ARN = re.compile(rf"arn:([a-z-]+):wisdom:([a-z0-9-]*):([0-9]{{12}}):knowledge-base/({_UUID})")


def at_least_one(name: str, value: object) -> int:
    """An int of at least 1 (``max_concurrency``, ``max_attempts``, ...)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be an int of at least 1, not {value!r}")
    return value


def not_negative(name: str, value: object) -> int:
    """An int of at least 0 (``retry_quota``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be an int of at least 0, not {value!r}")
    return value


def seconds(name: str, value: object, *, zero: bool = False, unit: str = "seconds") -> float:
    """A finite, positive number of seconds (or of ``unit``); 0 as well if ``zero``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a number of {unit}, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        what = "finite, non-negative" if zero else "positive"
        raise ValidationError(f"{name} must be a {what} number of {unit}, not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class KnowledgeBaseRef:
    """A knowledge base as the caller named it: its ID, and an ARN's partition, Region, account."""

    id: str
    arn: str | None = None
    partition: str | None = None
    region: str | None = None
    account: str | None = None

    def check_place(self, *, partition: str | None, region: str | None) -> None:
        """Refuse an ARN of another partition or Region than the client's.

        The request would go to the client's Region with the ARN's ID: at best a
        ResourceNotFound, at worst another KB that happens to share the ID.
        """
        if self.arn is None:
            return
        if partition and self.partition != partition:
            raise ValidationError(
                f"the ARN is of partition {self.partition!r}, the client's is {partition!r}",
                knowledge_base_id=self.id,
            )
        if region and self.region and self.region != region:
            raise ValidationError(
                f"the ARN is of Region {self.region!r}, the client's is {region!r}: "
                "use a client of that Region",
                knowledge_base_id=self.id,
            )


def knowledge_base_id(value: object) -> str:
    """The ID of a knowledge base given as an ID or an ARN."""
    return knowledge_base_ref(value).id


def knowledge_base_ref(value: object) -> KnowledgeBaseRef:
    """A knowledge base given as an ID or an ARN, checked.

    URLs cannot carry the ARN (the service's path is /knowledgeBases/{id}/...), so an ARN is
    reduced to its ID (its partition and Region kept, for the client to check); anything else
    is refused before it reaches a URL.
    """
    if not isinstance(value, str):
        raise ValidationError(
            f"knowledge base must be an ID or ARN string, not {type(value).__name__}"
        )
    if _ID.fullmatch(value):
        return KnowledgeBaseRef(value)
    match = _KB_ARN.fullmatch(value)
    if match:
        partition, region, account, kb_id = match.groups()
        return KnowledgeBaseRef(kb_id, value, partition, region, account)
    raise ValidationError(
        f"not a knowledge base ID (lower-case UUID) or ARN: {value[:200]!r}",
        knowledge_base_id=value[:200] or None,
    )


def account_id(value: object) -> str:
    """An AWS account ID: 12 digits."""
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        raise ValidationError(f"an AWS account ID is 12 digits, not {str(value)[:40]!r}")
    return value


def region(value: object) -> str:
    """An AWS Region name ("us-east-1", "eu-west-2", ...)."""
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ValidationError(f"not an AWS Region name: {str(value)[:40]!r}")
    return value


def knowledge_base_types(value: object) -> frozenset[str] | None:
    """Knowledge base types to list (non-empty strings, known or not), or None for all."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(
            "knowledge_base_types must be a collection of types (or None: every type), "
            f"not {value!r}"
        )
    types = frozenset(str(short_string("a knowledge base type", t)) for t in value)
    if not types:
        raise ValidationError("knowledge_base_types is empty: no knowledge base would be listed")
    return types


def page_size(value: object) -> int:
    """``page_size`` as the service takes it (1..100); None: the largest, 100."""
    if value is None:
        return MAX_PAGE_SIZE
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"page_size must be an int, not {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {value}")
    return value


def token(value: object) -> str | None:
    """A pagination token to start from (1..4096 characters), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"starting_token must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= _MAX_TOKEN:
        raise ValidationError(
            f"starting_token must be 1 to {_MAX_TOKEN} characters, not {len(value)}"
        )
    return value


def deadline(value: object) -> float | None:
    """``deadline`` in seconds (positive, finite), or None for none."""
    return None if value is None else seconds("deadline", value)


_PRIORITIES = {"interactive": INTERACTIVE, "bulk": BULK}


def priority(value: object, default: int) -> int:
    """``priority`` ("interactive" or "bulk") as the sender's number; ``default`` for None."""
    if value is None:
        return default
    if isinstance(value, str) and value in _PRIORITIES:
        return _PRIORITIES[value]
    raise ValidationError(f"priority must be 'interactive' or 'bulk', not {value!r}")


def rate_wait(value: object) -> float | None:
    """``max_rate_wait`` in seconds (zero or more, finite), or None for no bound."""
    return None if value is None else seconds("max_rate_wait", value, zero=True)


# -- managing import jobs ------------------------------------------------------------------

# The model's ContentType pattern (StartContentUpload), anchored as the service anchors it.
_CONTENT_TYPE = re.compile(
    r"(text/(plain|html|csv))"
    r"|(application/(pdf|vnd\.openxmlformats-officedocument\.wordprocessingml\.document))"
    r"|(application/x\.wisdom-json;source=(salesforce|servicenow|zendesk))"
)
#: ContentMetadata: at most 10 entries, keys and values of 1..4096 characters.
MAX_METADATA_ENTRIES = 10
_MAX_STRING = 4096


def import_job_id(value: object) -> str:
    """An import job ID (a lower-case UUID, as the model's Uuid shape)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        shown = value[:200] if isinstance(value, str) else type(value).__name__
        raise ValidationError(f"not an import job ID (lower-case UUID): {shown!r}")
    return value


def jobs_to_wait_for(jobs: object) -> list[tuple[str, str]]:
    """Jobs to wait for, ImportJobs or (knowledge base ID or ARN, job ID) pairs, as
    (knowledge base, checked job ID): an ImportJob's KB by its ARN (which names its Region)."""
    # Here, not at the top: the CLI's checks run before it needs pydantic (its --help never does).
    from .models import ImportJob

    if isinstance(jobs, str | ImportJob) or not isinstance(jobs, Iterable):
        raise ValidationError("jobs must be a collection of ImportJobs or (KB, job ID) pairs")
    pairs: list[tuple[str, str]] = []
    for job in jobs:
        if isinstance(job, ImportJob):
            kb, job_id = job.knowledge_base_arn, job.import_job_id
        elif isinstance(job, tuple) and len(job) == 2:
            kb, job_id = job
        else:
            raise ValidationError(
                f"each job must be an ImportJob or a (KB, job ID) pair, not {job!r}"
            )
        pairs.append((kb, import_job_id(job_id)))
    return pairs


def content_or_upload(content: object, upload_id: object) -> None:
    """A start takes content to upload or the ID of an upload already made: one of them."""
    if (content is None) == (upload_id is None):
        raise ValidationError("give either content or upload_id (an upload already made)")


def content_source(value: object) -> bytes | Path:
    """Import content: bytes (non-empty), or a path (str or os.PathLike) to check later."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if not data:
            raise ValidationError("content is empty: there is nothing to import")
        return data
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        if not isinstance(path, str) or not path:
            raise ValidationError("content must be bytes or a non-empty path")
        return Path(path)
    raise ValidationError(f"content must be bytes or a path, not {type(value).__name__}")


def content_type(value: object) -> str:
    """A content type the service accepts (the model's ContentType pattern)."""
    if not isinstance(value, str) or not _CONTENT_TYPE.fullmatch(value):
        raise ValidationError(
            f"content_type must be text/csv, text/plain, text/html, application/pdf, a docx type"
            f" or application/x.wisdom-json;source=..., not {str(value)[:100]!r}"
        )
    return value


def presigned_url_ttl(value: object) -> int | None:
    """``presigned_url_ttl``: whole minutes the upload URL stays valid (1..60), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise ValidationError(f"presigned_url_ttl must be 1 to 60 (minutes), not {value!r}")
    return value


def short_string(name: str, value: object) -> str:
    """A string of 1..4096 characters (the model's NonEmptyString)."""
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_STRING:
        raise ValidationError(f"{name} must be a string of 1 to {_MAX_STRING} characters")
    return value


def metadata(value: object) -> dict[str, str] | None:
    """Import metadata: at most 10 string entries of 1..4096 characters each."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"metadata must be a mapping, not {type(value).__name__}")
    if len(value) > MAX_METADATA_ENTRIES:
        raise ValidationError(
            f"metadata holds at most {MAX_METADATA_ENTRIES} entries, not {len(value)}"
        )
    return {
        short_string("a metadata key", k): short_string("a metadata value", v)
        for k, v in value.items()
    }


def external_source(value: object) -> dict[str, Any] | None:
    """An external source configuration (the model or a mapping), in its wire form."""
    # Imported here: the CLI's --help imports these checks, and must not pay for pydantic.
    import pydantic

    from .models import ExternalSourceConfiguration

    if value is None:
        return None
    if not isinstance(value, ExternalSourceConfiguration):
        if not isinstance(value, Mapping):
            raise ValidationError(
                "external_source_configuration must be an ExternalSourceConfiguration or a "
                f"mapping, not {type(value).__name__}"
            )
        try:
            value = ExternalSourceConfiguration.model_validate(value)
        except pydantic.ValidationError as exc:
            raise ValidationError(f"external_source_configuration is not valid: {exc}") from None
    wire: dict[str, Any] = value.model_dump(by_alias=True, mode="json", exclude_none=True)
    return wire

"""The answers' bodies: decoded from their JSON into typed values, bad ones told apart.

The transport hands the 2xx bodies of our own clients back unparsed (``RAW_KEY``): pydantic
decodes them from the JSON, where botocore's parser would cost more and read a body cut short
as an error answer. A borrowed client's answers come parsed by botocore and are validated as
they are. A complete body that breaks the model is a MalformedResponseError (never "zero
items"); a close-delimited body cut mid-document is a TransportError (sent again).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import pydantic

from ._call import Call
from ._errors import MalformedResponseError, TransportError
from .models import ImportJob, ImportJobPage, KnowledgeBase, KnowledgeBasePage

__all__ = [
    "INCOMPLETE_BODY",
    "RAW_KEY",
    "ContentUpload",
    "content_upload",
    "import_job",
    "import_job_page",
    "knowledge_base_page",
    "raw_response",
]

#: Where an unparsed 2xx body sits in the response the transport returns.
RAW_KEY = "_qconnect_async_raw_body"
#: The code of the TransportError for a 2xx body cut short (retried like any transient failure).
INCOMPLETE_BODY = "IncompleteBody"
_B = TypeVar("_B", bound=pydantic.BaseModel)


class _ListImportJobsBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    importJobSummaries: tuple[ImportJob, ...]
    nextToken: str | None = None


class _ListKnowledgeBasesBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    knowledgeBaseSummaries: tuple[KnowledgeBase, ...]
    nextToken: str | None = None


class ContentUpload(pydantic.BaseModel):
    """StartContentUpload's answer: where to PUT the content, and with which headers."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    upload_id: str = pydantic.Field(alias="uploadId")
    # A presigned URL: a secret (never in repr, str or logs).
    url: pydantic.SecretStr
    #: On this host's clock: the service's urlExpiry, moved by the clock skew learnt.
    url_expiry: datetime = pydantic.Field(alias="urlExpiry")
    headers_to_include: dict[str, str] = pydantic.Field(alias="headersToInclude")


class _StartContentUploadBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    upload: ContentUpload


class _ImportJobBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    importJob: ImportJob


def raw_response(body: bytes, status: int, headers: Mapping[str, str]) -> dict[str, Any]:
    """A 2xx answer left unparsed, with the metadata botocore's parser would add."""
    return {
        RAW_KEY: body,
        "ResponseMetadata": {
            "RequestId": headers.get("x-amzn-requestid"),
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
        },
    }


def import_job_page(response: Mapping[str, Any], call: Call) -> ImportJobPage:
    """A ListImportJobs answer as a page of ``call``'s knowledge base."""
    body = _decode(_ListImportJobsBody, response, call, "importJobSummaries")
    return ImportJobPage(
        items=body.importJobSummaries,
        next_token=body.nextToken or None,  # "" ends a listing, as in botocore
        knowledge_base_id=call.knowledge_base_id,
    )


def knowledge_base_page(response: Mapping[str, Any], call: Call) -> KnowledgeBasePage:
    """A ListKnowledgeBases answer as a page."""
    body = _decode(_ListKnowledgeBasesBody, response, call, "knowledgeBaseSummaries")
    return KnowledgeBasePage(items=body.knowledgeBaseSummaries, next_token=body.nextToken or None)


def content_upload(response: Mapping[str, Any], call: Call) -> ContentUpload:
    """A StartContentUpload answer (parsed by botocore: it is small, and holds no list)."""
    if "uploadId" not in response:
        raise MalformedResponseError(
            "the response has no uploadId", **_answer(response), **call.error_fields()
        )
    return _decode(_StartContentUploadBody, {"upload": response}, call, "upload").upload


def import_job(response: Mapping[str, Any], call: Call) -> ImportJob:
    """A GetImportJob or StartImportJob answer's job."""
    return _decode(_ImportJobBody, response, call, "importJob").importJob


def _answer(response: Mapping[str, Any]) -> dict[str, Any]:
    """The HTTP status and request id of a parsed answer, for its errors."""
    meta = response.get("ResponseMetadata") or {}
    return {"http_status": meta.get("HTTPStatusCode"), "request_id": meta.get("RequestId")}


def _decode(model: type[_B], response: Mapping[str, Any], call: Call, required: str) -> _B:
    meta = response.get("ResponseMetadata") or {}
    try:
        raw = response.get(RAW_KEY)
        if raw is not None:
            return model.model_validate_json(raw)
        # A borrowed client parsed the body with botocore, which turns bad JSON into {}:
        # a missing list is a malformed answer, never "zero items".
        if required not in response:
            raise MalformedResponseError(
                f"the response has no {required}", **_answer(response), **call.error_fields()
            )
        return model.model_validate(_utc_tree(response))
    except pydantic.ValidationError as exc:
        if raw is not None and _cut_short(exc, meta.get("HTTPHeaders") or {}):
            raise TransportError(
                "the response body ended mid-document: the connection closed early",
                code=INCOMPLETE_BODY,
                **_answer(response),
                **call.error_fields(),
            ) from exc
        raise MalformedResponseError(
            f"the response does not match the service model: {_first_error(exc)}",
            **_answer(response),
            **call.error_fields(),
        ) from exc


def _utc_tree(value: Any) -> Any:
    """botocore's parsed answer with every datetime in UTC (its parser gives tzlocal ones).

    Only borrowed clients' answers come this way; ours are decoded from the JSON body,
    where pydantic already yields UTC for the epoch numbers the service sends.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, Mapping):
        return {k: _utc_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_utc_tree(v) for v in value]
    return value


def _cut_short(exc: pydantic.ValidationError, headers: Mapping[str, str]) -> bool:
    """Whether a body that is not JSON was cut by the network, rather than sent wrong.

    Only a close-delimited body (no Content-Length, not chunked) can be cut without the HTTP
    layer noticing; it was cut when the document stops in the middle. Any other bad body is
    complete as sent, and sending it again would give the same answer.
    """
    names = {name.lower() for name in headers}
    if "content-length" in names or "transfer-encoding" in names:
        return False
    first = exc.errors(include_url=False, include_input=False)[0]
    return first["type"] == "json_invalid" and "EOF while parsing" in str(first["msg"])


def _first_error(exc: pydantic.ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"

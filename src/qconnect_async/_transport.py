"""The one module that touches aiobotocore: client lifecycle, one call, body decode.

Each function here makes exactly one attempt; retrying is ``_send``'s job. Every failure
leaves this module as a ``QConnectError`` with the botocore exception chained.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import pydantic
from aiobotocore.config import AioConfig
from aiobotocore.parsers import AioResponseParserFactory
from aiobotocore.session import AioSession
from botocore.awsrequest import prepare_request_dict
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoRegionError,
    ParamValidationError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from ._errors import (
    MalformedResponseError,
    QConnectError,
    TransportError,
    ValidationError,
    error_for_code,
)
from .models import ImportJob, ImportJobPage, KnowledgeBase

__all__ = ["KnowledgeBasePage", "Transport", "TransportOptions"]

_RAW_KEY = "_qconnect_async_raw_body"
# The operations whose 2xx bodies we decode ourselves (botocore's parse costs ~2.5 ms a page).
_RAW_SHAPES = frozenset({"ListImportJobsResponse", "ListKnowledgeBasesResponse"})
_USER_AGENT = "qconnect-async"
_B = TypeVar("_B", bound=pydantic.BaseModel)


@dataclass(frozen=True, kw_only=True)
class TransportOptions:
    """How to build the aiobotocore client this library owns."""

    region_name: str | None = None
    endpoint_url: str | None = None
    profile_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_pool_connections: int = 10


@dataclass(frozen=True)
class KnowledgeBasePage:
    """One page of ListKnowledgeBases."""

    items: tuple[KnowledgeBase, ...]
    next_token: str | None


class _ListImportJobsBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    importJobSummaries: tuple[ImportJob, ...]
    nextToken: str | None = None


class _ListKnowledgeBasesBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    knowledgeBaseSummaries: tuple[KnowledgeBase, ...]
    nextToken: str | None = None


def _raw_response(body: bytes, status: int, headers: Mapping[str, str]) -> dict[str, Any]:
    """A 2xx answer left unparsed, with the metadata botocore's parser would add."""
    return {
        _RAW_KEY: body,
        "ResponseMetadata": {
            "RequestId": headers.get("x-amzn-requestid"),
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
        },
    }


class _RawBodyParser:
    """Hands 2xx bodies of the listing operations back unparsed; delegates the rest."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def parse(self, response: Mapping[str, Any], shape: Any) -> Any:
        if (
            shape is not None
            and shape.name in _RAW_SHAPES
            and response["status_code"] < 300
            and isinstance(response["body"], bytes)
        ):
            return _raw_response(response["body"], response["status_code"], response["headers"])
        return await self._inner.parse(response, shape)


class _RawBodyParserFactory(AioResponseParserFactory):  # type: ignore[misc]
    def create_parser(self, protocol_name: str) -> Any:
        return _RawBodyParser(super().create_parser(protocol_name))


@dataclass(frozen=True)
class _Template:
    """What every ListImportJobs request of a client shares, learnt from its first one."""

    endpoint_url: str
    headers: Mapping[str, str]
    context: Mapping[str, Any]


class _ListImportJobsFastPath:
    """ListImportJobs without botocore's per-call machinery, on botocore's own parts.

    The first request of a client goes the ordinary way (parameter events, endpoint rules,
    serialisation, user agent); a ``before-call`` hook records what it resolved. Every later
    request reuses that: only the URL changes (the KB in the path, the token in the query),
    and it is still signed by the client's signer (credentials refreshed as usual) and sent
    by aiobotocore's HTTP session. Endpoint rules for qconnect depend on region and config
    only, never on the KB, which is what makes the reuse sound. Owned clients only.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._template: _Template | None = None
        self._operation = client.meta.service_model.operation_model("ListImportJobs")
        self._error_parser = AioResponseParserFactory().create_parser("rest-json")
        client.meta.events.register("before-call.qconnect.ListImportJobs", self._learn)

    @property
    def ready(self) -> bool:
        return self._template is not None

    def _learn(self, params: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> None:
        if self._template is not None:
            return
        url = str(params["url"]).split("?", 1)[0]
        path = str(params["url_path"])
        if not url.endswith(path) or params["method"] != "GET":
            return  # not the shape we understand: stay on the ordinary path
        headers = {
            k: v for k, v in params["headers"].items() if k.lower() != "amz-sdk-invocation-id"
        }
        context = {k: v for k, v in context.items() if k != "retries"}
        self._template = _Template(url[: len(url) - len(path)], headers, context)

    async def call(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """One request, answering as ``_make_api_call`` would (or raising ClientError)."""
        template = self._template
        assert template is not None
        query: dict[str, Any] = {"maxResults": params["maxResults"]}
        if "nextToken" in params:
            query["nextToken"] = params["nextToken"]
        request_dict: dict[str, Any] = {
            "url_path": f"/knowledgeBases/{params['knowledgeBaseId']}/importJobs",
            "query_string": query,
            "method": "GET",
            "headers": dict(template.headers),
            "body": b"",
            "context": dict(template.context),
        }
        prepare_request_dict(request_dict, endpoint_url=template.endpoint_url)
        endpoint = self._client._endpoint
        # request-created signs the request with the client's signer, as on the ordinary path.
        request = await endpoint.create_request(request_dict, self._operation)
        http_response = await endpoint._send(request)
        body = await http_response.content
        headers = http_response.headers
        status = http_response.status_code
        if status < 300:
            return _raw_response(body, status, headers)
        parsed = await self._error_parser.parse(
            {"status_code": status, "headers": headers, "body": body},
            self._operation.output_shape,
        )
        raise ClientError(parsed, "ListImportJobs")


class Transport:
    """One aiobotocore qconnect client, owned or borrowed, and the calls we make on it."""

    def __init__(self, client: Any, *, owned_stack: contextlib.AsyncExitStack | None) -> None:
        self._client = client
        self._stack = owned_stack
        # Hooks go on clients we own only: a borrowed client is never changed.
        self._fast = _ListImportJobsFastPath(client) if owned_stack is not None else None

    @classmethod
    async def open(cls, options: TransportOptions, session: Any | None = None) -> Transport:
        """Create the aiobotocore client (loads botocore's models: do it once per process)."""
        try:
            if session is None:
                session = AioSession(profile=options.profile_name)
                # Our own session only: a session the caller passed in is never changed.
                session.register_component("response_parser_factory", _RawBodyParserFactory())
        except BotoCoreError as exc:  # e.g. ProfileNotFound
            raise ValidationError(_safe_message(exc), code=type(exc).__name__) from exc
        config = AioConfig(
            # One attempt: retries have one owner, this library; botocore's would multiply ours.
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=options.max_pool_connections,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            # We check every argument before sending; botocore's check would cost CPU per page.
            parameter_validation=False,
            user_agent_extra=_USER_AGENT,
        )
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                session.create_client(
                    "qconnect",
                    region_name=options.region_name,
                    endpoint_url=options.endpoint_url,
                    aws_access_key_id=options.aws_access_key_id,
                    aws_secret_access_key=options.aws_secret_access_key,
                    aws_session_token=options.aws_session_token,
                    config=config,
                )
            )
        except NoRegionError as exc:
            await stack.aclose()
            raise ValidationError(
                "no AWS region: pass region_name or set AWS_DEFAULT_REGION", code="NoRegion"
            ) from exc
        except BotoCoreError as exc:  # a broken config file, an unknown profile, ...
            await stack.aclose()
            raise ValidationError(_safe_message(exc), code=type(exc).__name__) from exc
        except BaseException:
            await stack.aclose()
            raise
        return cls(client, owned_stack=stack)

    @classmethod
    def borrow(cls, client: Any) -> Transport:
        """Use a client the application manages; ``close`` leaves it open."""
        if getattr(getattr(client, "meta", None), "service_model", None) is None:
            raise TypeError("from_client() takes an aiobotocore client")
        if client.meta.service_model.service_name != "qconnect":
            name = client.meta.service_model.service_name
            raise TypeError(f"from_client() takes a qconnect client, not {name}")
        return cls(client, owned_stack=None)

    @property
    def max_pool_connections(self) -> int:
        """The size of the client's connection pool."""
        return int(self._client.meta.config.max_pool_connections)

    async def close(self) -> None:
        """Close the client if we own it."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def list_import_jobs(
        self, knowledge_base_id: str, *, max_results: int, next_token: str | None
    ) -> ImportJobPage:
        """One ListImportJobs request, decoded into a typed page."""
        params: dict[str, Any] = {"knowledgeBaseId": knowledge_base_id, "maxResults": max_results}
        if next_token is not None:
            params["nextToken"] = next_token
        ctx = _Context("ListImportJobs", knowledge_base_id, next_token)
        fast = self._fast
        response = await self._call(ctx, params, fast.call if fast and fast.ready else None)
        body = _decode(_ListImportJobsBody, response, ctx, "importJobSummaries")
        return ImportJobPage(
            items=body.importJobSummaries,
            next_token=body.nextToken,
            knowledge_base_id=knowledge_base_id,
        )

    async def list_knowledge_bases(
        self, *, max_results: int, next_token: str | None
    ) -> KnowledgeBasePage:
        """One ListKnowledgeBases request, decoded."""
        params: dict[str, Any] = {"maxResults": max_results}
        if next_token is not None:
            params["nextToken"] = next_token
        ctx = _Context("ListKnowledgeBases", None, next_token)
        response = await self._call(ctx, params)
        body = _decode(_ListKnowledgeBasesBody, response, ctx, "knowledgeBaseSummaries")
        return KnowledgeBasePage(items=body.knowledgeBaseSummaries, next_token=body.nextToken)

    async def _call(
        self,
        ctx: _Context,
        params: dict[str, Any],
        fast: Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]] | None = None,
    ) -> Mapping[str, Any]:
        try:
            if fast is not None:
                result = await fast(params)
            else:
                result = await self._client._make_api_call(ctx.operation, params)
        except ClientError as exc:
            raise _from_client_error(exc, ctx) from exc
        except (BotoConnectionError, HTTPClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                _safe_message(exc), code=type(exc).__name__, **ctx.fields()
            ) from exc
        except ParamValidationError as exc:
            raise ValidationError(str(exc), code="ParamValidation", **ctx.fields()) from exc
        except BotoCoreError as exc:
            raise QConnectError(
                _safe_message(exc), code=type(exc).__name__, **ctx.fields()
            ) from exc
        return result


@dataclass(frozen=True)
class _Context:
    operation: str
    knowledge_base_id: str | None
    next_token: str | None

    def fields(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "knowledge_base_id": self.knowledge_base_id,
            "next_token": self.next_token,
        }


def _decode(
    model: type[_B], response: Mapping[str, Any], ctx: _Context, required: str
) -> _B:
    meta = response.get("ResponseMetadata") or {}
    try:
        raw = response.get(_RAW_KEY)
        if raw is not None:
            return model.model_validate_json(raw)
        # A borrowed client parsed the body with botocore, which turns bad JSON into {}:
        # a missing list is a malformed answer, never "zero items".
        if required not in response:
            raise MalformedResponseError(
                f"the response has no {required}",
                http_status=meta.get("HTTPStatusCode"),
                request_id=meta.get("RequestId"),
                **ctx.fields(),
            )
        return model.model_validate(response)
    except pydantic.ValidationError as exc:
        raise MalformedResponseError(
            f"the response does not match the service model: {_first_error(exc)}",
            http_status=meta.get("HTTPStatusCode"),
            request_id=meta.get("RequestId"),
            **ctx.fields(),
        ) from exc


def _first_error(exc: pydantic.ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _from_client_error(exc: ClientError, ctx: _Context) -> QConnectError:
    response: Mapping[str, Any] = exc.response
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    headers = meta.get("HTTPHeaders") or {}
    code = str(error.get("Code") or status or "Unknown")
    message = str(error.get("Message") or code)
    cls = error_for_code(code, status)
    return cls(
        message,
        code=code,
        http_status=status,
        request_id=meta.get("RequestId") or headers.get("x-amzn-requestid"),
        retry_after=_retry_after(headers.get("retry-after")),
        **ctx.fields(),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _safe_message(exc: BaseException) -> str:
    # botocore's messages name the endpoint, never the credentials; keep them short.
    text = str(exc) or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError) and not str(exc):
        text = "the request timed out"
    return text[:500]


# -- managing import jobs (issue 12): one attempt each, on the public path --------------------


class ContentUpload(pydantic.BaseModel):
    """StartContentUpload's answer: where to PUT the content, and with which headers."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    upload_id: str = pydantic.Field(alias="uploadId")
    # A presigned URL: a secret (never in repr, str or logs).
    url: pydantic.SecretStr
    url_expiry: datetime = pydantic.Field(alias="urlExpiry")
    headers_to_include: dict[str, str] = pydantic.Field(alias="headersToInclude")


class _StartContentUploadBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    upload: ContentUpload


class _ImportJobBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")
    importJob: ImportJob


async def start_content_upload(
    transport: Transport, knowledge_base_id: str, content_type: str
) -> ContentUpload:
    """One StartContentUpload request."""
    ctx = _Context("StartContentUpload", knowledge_base_id, None)
    params = {"knowledgeBaseId": knowledge_base_id, "contentType": content_type}
    response = await transport._call(ctx, params)
    if "uploadId" not in response:
        meta = response.get("ResponseMetadata") or {}
        raise MalformedResponseError(
            "the response has no uploadId",
            http_status=meta.get("HTTPStatusCode"),
            request_id=meta.get("RequestId"),
            **ctx.fields(),
        )
    return _decode(_StartContentUploadBody, {"upload": response}, ctx, "upload").upload


async def start_import_job(
    transport: Transport,
    knowledge_base_id: str,
    *,
    upload_id: str,
    import_job_type: str,
    client_token: str,
    metadata: Mapping[str, str] | None,
    external_source_configuration: Mapping[str, Any] | None,
) -> ImportJob:
    """One StartImportJob request; ``client_token`` makes a retried start the same job."""
    params: dict[str, Any] = {
        "knowledgeBaseId": knowledge_base_id,
        "importJobType": import_job_type,
        "uploadId": upload_id,
        "clientToken": client_token,
    }
    if metadata is not None:
        params["metadata"] = dict(metadata)
    if external_source_configuration is not None:
        params["externalSourceConfiguration"] = dict(external_source_configuration)
    ctx = _Context("StartImportJob", knowledge_base_id, None)
    try:
        response = await transport._call(ctx, params)
    except QConnectError as error:
        error.upload_id = upload_id
        raise
    return _decode(_ImportJobBody, response, ctx, "importJob").importJob


async def get_import_job(
    transport: Transport, knowledge_base_id: str, import_job_id: str
) -> ImportJob:
    """One GetImportJob request."""
    ctx = _Context("GetImportJob", knowledge_base_id, None)
    params = {"knowledgeBaseId": knowledge_base_id, "importJobId": import_job_id}
    response = await transport._call(ctx, params)
    return _decode(_ImportJobBody, response, ctx, "importJob").importJob


async def delete_import_job(
    transport: Transport, knowledge_base_id: str, import_job_id: str
) -> None:
    """One DeleteImportJob request (204, no body)."""
    ctx = _Context("DeleteImportJob", knowledge_base_id, None)
    params = {"knowledgeBaseId": knowledge_base_id, "importJobId": import_job_id}
    await transport._call(ctx, params)

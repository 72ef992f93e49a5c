"""The one module that touches aiobotocore: the transport protocol and its botocore implementation.

``Transport`` is what the rest of the library needs from the wire; ``BotocoreTransport`` is
the ordinary implementation, on aiobotocore's public path: every request is a generated client
method (``_make_api_call``, botocore's events), so the user's tracing sees every page. Each call
here makes exactly one attempt; retrying is ``_send``'s job. Every failure leaves this module
as a ``QConnectError`` with the botocore exception chained.

``send(call, params)`` is one attempt of a ``Call`` (``_call``): its errors are built from
the call, complete. The operations themselves (their parameters, their decoded answers) are
``_ops``'s: adding one is a method there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.parsers import AioResponseParserFactory
from aiobotocore.session import AioSession
from botocore import xform_name
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from ._call import Call
from ._decode import raw_response
from ._errors import (
    CredentialsError,
    QConnectError,
    ResourceNotFoundError,
    TransportError,
    ValidationError,
    error_for_code,
    retry_after_seconds,
)
from ._redact import in_our_call, unwatch, watch
from ._skew import ClockSkew
from ._telemetry import answered, package_version
from ._warmup import warmed_session

__all__ = [
    "BotocoreTransport",
    "Transport",
    "TransportOptions",
    "default_region",
]


def default_region(profile_name: str | None) -> str | None:
    """The Region of the AWS settings (``AWS_DEFAULT_REGION``, else the profile's), as a
    client without ``region_name`` takes it; None when there is none."""
    try:
        found = AioSession(profile=profile_name).get_config_variable("region")
    except BotoCoreError as exc:  # an unknown profile, a broken config file
        raise ValidationError(_safe_message(exc), code=type(exc).__name__) from exc
    return None if found is None else str(found)


# The operations whose 2xx bodies we decode ourselves (``_decode``): botocore's parse costs
# more than the rest of a page, and turns a body cut short into {"message": ...}, so a cut
# could not be told from a wrong answer (GetImportJob is what wait_for_import_job polls).
_RAW_SHAPES = frozenset(
    {
        "ListImportJobsResponse",
        "ListKnowledgeBasesResponse",
        "GetImportJobResponse",
        "StartImportJobResponse",
    }
)
_USER_AGENT = "qconnect-async"
# botocore's "no usable credentials": missing, half given, or a provider that failed.
_CREDENTIALS_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)


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
    #: where our session's credentials come from (a botocore credential provider with an
    #: async ``load_credentials()``); None: botocore's default chain (a QConnectRouter's
    #: clients of other accounts get their role's credentials here)
    credential_provider: Any | None = None
    #: the account the credentials reach, when known (a QConnectRouter's clients): every
    #: error of the client names it
    account_id: str | None = None


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
            return raw_response(response["body"], response["status_code"], response["headers"])
        return await self._inner.parse(response, shape)


class _RawBodyParserFactory(AioResponseParserFactory):
    def create_parser(self, protocol_name: str) -> Any:
        return _RawBodyParser(super().create_parser(protocol_name))


class Transport(Protocol):
    """What the library needs from the wire: one attempt per call, typed answers.

    Every method raises ``QConnectError`` (its subclasses) on failure and never retries.
    Tests may pass their own implementation (``QConnectClient._with_transport``).
    """

    @property
    def max_pool_connections(self) -> int:
        """How many requests the transport can have in flight at once."""
        ...

    @property
    def region_name(self) -> str | None:
        """The Region requests go to."""
        ...

    @property
    def partition(self) -> str | None:
        """The partition of that Region ("aws", "aws-cn", ...)."""
        ...

    async def close(self) -> None:
        """Release what the transport owns; idempotent."""
        ...

    @property
    def clock_offset(self) -> float:
        """Seconds the service's clock is ahead of this host's, as learnt (0: not known)."""
        ...

    async def send(self, call: Call, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """One attempt of ``call`` with ``params``: the answer, parsed or with its raw body."""
        ...


class BotocoreTransport:
    """``Transport`` on one aiobotocore qconnect client, owned or borrowed."""

    def __init__(self, client: Any, *, owned_stack: contextlib.AsyncExitStack | None) -> None:
        self._client = client
        self._stack = owned_stack
        self._region: str | None = client.meta.region_name
        # Generated client methods by operation name: the public, instrumented entry points.
        self._methods: dict[str, Any] = {}
        self._skew: ClockSkew | None = None
        if owned_stack is not None:
            # Our clients only (a borrowed client is never changed): botocore's DEBUG lines
            # for these requests carry the session token and the signature.
            watch()
            self._skew = ClockSkew()
            self._skew.install(client.meta.events)

    @classmethod
    async def open(cls, options: TransportOptions, session: Any | None = None) -> BotocoreTransport:
        """Create the aiobotocore client; its slow synchronous work runs in a thread first."""
        # Errors of the open name the client's account (when known) and Region.
        where: dict[str, Any] = {"account_id": options.account_id, "region": options.region_name}
        try:
            session = await warmed_session(session, partial(_own_session, options), "qconnect")
            user_agent = f"{session.user_agent()} {_USER_AGENT}/{package_version()}"
        except BotoCoreError as exc:  # e.g. ProfileNotFound
            raise ValidationError(_safe_message(exc), code=type(exc).__name__, **where) from exc
        config = AioConfig(
            # One attempt: retries have one owner, this library; botocore's would multiply ours.
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=options.max_pool_connections,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            # We check every argument before sending; botocore's check would cost CPU per page.
            parameter_validation=False,
            # A fixed User-Agent (public Config option): botocore otherwise rebuilds its
            # structured one per request, twice (serialising, then after signing), a large
            # share of a page's CPU. Lost: botocore's per-request feature ids ("m/...");
            # kept: botocore's name, Python and platform, and ours.
            user_agent=user_agent,
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
                "no AWS region: pass region_name or set AWS_DEFAULT_REGION",
                code="NoRegion",
                account_id=options.account_id,
            ) from exc
        except _CREDENTIALS_ERRORS as exc:
            await stack.aclose()
            raise CredentialsError(_safe_message(exc), code=type(exc).__name__, **where) from exc
        except BotoCoreError as exc:  # a broken config file, an unknown profile, ...
            await stack.aclose()
            raise ValidationError(_safe_message(exc), code=type(exc).__name__, **where) from exc
        except BaseException:
            await stack.aclose()
            raise
        return cls(client, owned_stack=stack)

    @classmethod
    def borrow(cls, client: Any) -> BotocoreTransport:
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

    @property
    def region_name(self) -> str | None:
        """The Region requests go to."""
        return self._region

    @property
    def partition(self) -> str | None:
        """The partition of that Region ("aws", "aws-cn", ...)."""
        return getattr(self._client.meta, "partition", None)

    async def close(self) -> None:
        """Close the client if we own it."""
        stack, self._stack = self._stack, None
        if stack is not None:
            unwatch()
            await stack.aclose()

    @property
    def clock_offset(self) -> float:
        """Seconds the service's clock is ahead of this host's (our clients only)."""
        return 0.0 if self._skew is None else self._skew.offset

    async def send(self, call: Call, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """One request of ``call.operation`` through the generated client method.

        Answers the parsed response (a raw body under ``_RAW_KEY`` for the operations we
        decode ourselves, on clients we own); raises a typed ``QConnectError``.
        """
        try:
            return await self._call_once(call, params, self._skew)
        except _SkewCorrected:
            # Signed again with the service's time, once; a second refusal is raised as is.
            return await self._call_once(call, params, None)

    async def _call_once(
        self, call: Call, params: Mapping[str, Any], skew: ClockSkew | None
    ) -> Mapping[str, Any]:
        method = self._methods.get(call.operation)
        if method is None:
            method = self._methods[call.operation] = getattr(
                self._client, xform_name(call.operation)
            )
        # The offset this attempt is signed with (signing happens inside the call).
        signed_with = 0.0 if skew is None else skew.offset
        try:
            with in_our_call():
                result: Mapping[str, Any] = await method(**params)
        except ClientError as exc:
            if skew is not None and skew.learn(exc.response, signed_with=signed_with):
                raise _SkewCorrected from exc
            error = _from_client_error(exc, call)
            answered(self._region, error.request_id, error.http_status)
            raise error from exc
        except (BotoConnectionError, HTTPClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                _safe_message(exc), code=type(exc).__name__, **call.error_fields()
            ) from exc
        except ParamValidationError as exc:
            raise ValidationError(str(exc), code="ParamValidation", **call.error_fields()) from exc
        except _CREDENTIALS_ERRORS as exc:
            raise CredentialsError(
                _safe_message(exc), code=type(exc).__name__, **call.error_fields()
            ) from exc
        except BotoCoreError as exc:
            raise QConnectError(
                _safe_message(exc), code=type(exc).__name__, **call.error_fields()
            ) from exc
        meta = result.get("ResponseMetadata") or {}
        answered(self._region, meta.get("RequestId"), meta.get("HTTPStatusCode"))
        return result


def _own_session(options: TransportOptions) -> AioSession:
    session = AioSession(profile=options.profile_name)
    # Our own session only: a session the caller passed in is never changed.
    session.register_component("response_parser_factory", _RawBodyParserFactory())
    if options.credential_provider is not None:
        session.register_component("credential_provider", options.credential_provider)
    return session


class _SkewCorrected(Exception):
    """A skew error taught the clock offset: the request is to be signed and sent again."""


def _from_client_error(exc: ClientError, call: Call) -> QConnectError:
    response: Mapping[str, Any] = exc.response
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    headers = meta.get("HTTPHeaders") or {}
    code = str(error.get("Code") or status or "Unknown")
    message = str(error.get("Message") or code)
    cls = error_for_code(code, status)
    extra: dict[str, Any] = {}
    if issubclass(cls, ResourceNotFoundError):
        # The modelled shape's member: botocore puts it beside "Error" in the response.
        name = response.get("resourceName")
        extra["resource_name"] = name if isinstance(name, str) else None
    return cls(
        message,
        **extra,
        code=code,
        http_status=status,
        request_id=meta.get("RequestId") or headers.get("x-amzn-requestid"),
        retry_after=retry_after_seconds(headers.get("retry-after")),
        **call.error_fields(),
    )


def _safe_message(exc: BaseException) -> str:
    # botocore's messages name the endpoint, never the credentials; keep them short.
    text = str(exc) or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError) and not str(exc):
        text = "the request timed out"
    return text[:500]

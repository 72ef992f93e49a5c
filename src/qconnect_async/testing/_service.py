"""Request handling: the WSGI layer in front of moto, moto's handler for QConnect, the fast
ListImportJobs route, the presigned URLs, and the control endpoint.

Requests signed for `wisdom` (the qconnect signing name) are routed from botocore's model,
counted, checked for clock skew, delayed, throttled or failed here before moto sees them;
everything else (moto's own `/moto-api/...`, other services) passes through untouched. The
control endpoint is `POST /moto-api/qconnect/<call>` with a JSON object of keyword arguments (GET
for calls without arguments); it answers `{"result": ...}` and is derived from `_control`.

moto parses the other requests from botocore's model (automated parameter parsing), they are
checked against the model's constraints (`validate_input`), and moto serialises modelled errors and
most outputs. ListImportJobs, the hot path of benchmarks, joins the JSON bytes the backend keeps
ready per summary instead (moto's generic serialiser costs ~8 ms per 100-item page), and a plain
one skips moto altogether (`fast_list_import_jobs`): through moto a page costs ~3 ms of server
CPU (its dispatcher, Flask, request parsing, response enrichment), which a client's wall time
pays for too, the server's threads sharing its GIL. Requests for qconnect also skip moto's
dispatcher, which looks for the service anew on each request: the Flask app it picks for the
first one is kept.

The presigned URLs of StartContentUpload are served here too, not by moto's S3: that way a URL
names this server wherever it runs, their faults are injected like every other, and the check S3
makes of a presigned PUT (every signed header present with its value, no unsigned `x-amz-*`
header, not expired) is ours to state; moto does not enforce it. Their errors are S3's XML.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import botocore.session
import moto.settings
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from moto.core.exceptions import ServiceException
from moto.core.request import Request
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.utils import get_service_model
from moto.iam.models import get_account_id_from
from moto.moto_api import recorder

from ._backend import (
    REPORT_PREFIX,
    UPLOAD_PREFIX,
    QConnectBackend,
    RawImportJob,
    ValidationException,
    backend_for,
)
from ._control import CONTROL_PREFIX, ServerState, Settings
from ._faults import (
    DROPPED,
    ErrorReply,
    FaultInjector,
    Headers,
    PageFault,
    Reply,
    error_reply,
    json_reply,
    page_token,
    response_headers,
    s3_error,
    status_line,
)

# -- what a request carries to moto's handler -----------------------------------------------------
#: Where the WSGI layer hands moto's handler the RequestContext of a request (a request that
#: reaches moto some other way gets the defaults).
ENVIRON_KEY = "qconnect_async.testing.context"
#: Set in the environ: the HTTP server closes the connection without sending the reply.
DROP_CONNECTION = "qconnect_async.testing.drop_connection"


@dataclass(frozen=True)
class RequestContext:
    """The settings in force and the page fault (if any) for one request."""

    settings: Settings = field(default_factory=Settings)
    page_fault: PageFault | None = None
    #: Where the request reached the server ("http://127.0.0.1:50123"): presigned URLs point here.
    base_url: str = "http://127.0.0.1"


# -- routing: which operation a request is, from botocore's model ---------------------------------
# The server needs the operation and the knowledge base of a request before moto sees it, to
# count it and to decide its faults.
_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Route:
    """An operation and its URI labels, percent-decoded."""

    operation: str
    labels: dict[str, str]


@dataclass(frozen=True)
class _Rule:
    operation: str
    method: str
    pattern: re.Pattern[str]
    literal_size: int


def _compile(uri: str) -> re.Pattern[str]:
    path = uri.split("?", 1)[0]
    parts, last = [], 0
    for label in _LABEL.finditer(path):
        parts.append(re.escape(path[last : label.start()]))
        parts.append(f"(?P<{label[1]}>{'.+' if label[2] else '[^/]+'})")
        last = label.end()
    parts.append(re.escape(path[last:]))
    return re.compile("".join(parts))


@cache
def _rules() -> tuple[_Rule, ...]:
    model = botocore.session.get_session().get_service_model("qconnect")
    rules = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"]
        literal = len(_LABEL.sub("", uri.split("?", 1)[0]))
        rules.append(_Rule(name, http["method"], _compile(uri), literal))
    # The most literal template wins, as in the service's router.
    return tuple(sorted(rules, key=lambda rule: -rule.literal_size))


def match(method: str, raw_path: str) -> Route | None:
    """The operation a request is for; `raw_path` is still percent-encoded."""
    for rule in _rules():
        if rule.method != method:
            continue
        found = rule.pattern.fullmatch(raw_path) or rule.pattern.fullmatch(raw_path.rstrip("/"))
        if found is not None:
            return Route(rule.operation, {k: unquote(v) for k, v in found.groupdict().items()})
    return None


# -- input checked against the model's constraints ------------------------------------------------
# Check parsed input against the constraints of botocore's qconnect model.
#
# moto parses a request into the model's shapes but does not enforce required members, lengths,
# ranges, enums or patterns; the real service answers those with a 400 ValidationException, and so
# must we (never a 500). Messages follow the service's "1 validation error detected: ..." form.
def validate_input(shape: StructureShape | None, params: Mapping[str, Any]) -> None:
    """Raise ValidationException listing every constraint `params` breaks."""
    if shape is None:
        return
    errors: list[str] = []
    _check_members(shape, params, "", errors)
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise ValidationException(
            f"{len(errors)} validation error{plural} detected: " + "; ".join(errors)
        )


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    # botocore strips the outer ^...$ of the service's patterns; the service anchors them.
    return re.compile(pattern)


def _fail(errors: list[str], value: Any, path: str, constraint: str) -> None:
    shown = "null" if value is None else f"'{value}'"
    errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")


def _check_members(
    shape: StructureShape, value: Mapping[str, Any], prefix: str, errors: list[str]
) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            _fail(errors, None, prefix + name, "Member must not be null")
    if shape.metadata.get("union") and sum(value.get(n) is not None for n in shape.members) != 1:
        errors.append(f"Union at '{prefix.rstrip('.') or shape.name}' must have exactly one member")
    for name, member in shape.members.items():
        member_value = value.get(name)
        if member_value is not None:
            _check(member, member_value, prefix + name, errors)


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, Mapping):
            _fail(errors, value, path, "Member must be a structure")
        elif isinstance(shape, StructureShape) and not shape.is_document_type:
            _check_members(shape, value, path + ".", errors)
    elif kind == "string":
        if not isinstance(value, str):
            _fail(errors, value, path, "Member must be a string")
            return
        _check_size(len(value), meta, value, path, "length", errors)
        enum = meta.get("enum")
        if enum and value not in enum:
            _fail(errors, value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern and _pattern(pattern).fullmatch(value) is None:
            _fail(errors, value, path, f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(errors, value, path, "Member must be an integer")
            return
        _check_size(value, meta, value, path, "value", errors)
    elif kind == "boolean" and not isinstance(value, bool):
        _fail(errors, value, path, "Member must be a boolean")
    elif kind == "list" and isinstance(shape, ListShape):
        if not isinstance(value, list):
            _fail(errors, value, path, "Member must be a list")
            return
        _check_size(len(value), meta, value, path, "length", errors)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif kind == "map" and isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            _fail(errors, value, path, "Member must be a map")
            return
        _check_size(len(value), meta, value, path, "length", errors)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", errors)
            _check(shape.value, item, f"{path}.{key}", errors)


def _check_size(
    size: int, meta: Mapping[str, Any], value: Any, path: str, what: str, errors: list[str]
) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        _fail(errors, value, path, f"Member must have {what} greater than or equal to {low}")
    if high is not None and size > high:
        _fail(errors, value, path, f"Member must have {what} less than or equal to {high}")


# -- moto's handler for QConnect ------------------------------------------------------------------
JSON_HEADERS = {"Content-Type": "application/json"}
_DEFAULT_CONTEXT = RequestContext()
#: presignedUrlTimeToLive when the request names none (the model allows 1..60).
_DEFAULT_URL_MINUTES = 60


class QConnectResponse(BaseResponse):
    """One request to the QConnect API."""

    def __init__(self) -> None:
        super().__init__(service_name="qconnect")
        self.automated_parameter_parsing = True
        self._parse_error: Exception | None = None
        self._action: str | None = None

    @property
    def backend(self) -> QConnectBackend:
        return backend_for(self.current_account, self.region)

    @property
    def context(self) -> RequestContext:
        context = self.normalized_request.environ.get(ENVIRON_KEY)
        return context if isinstance(context, RequestContext) else _DEFAULT_CONTEXT

    def parse_parameters(self, request: Request) -> None:
        # moto's parser raises on garbage (a non-numeric maxResults, a broken JSON body); the
        # service answers those with a 400, so keep the error for the handler to raise.
        try:
            super().parse_parameters(request)
        except Exception as exc:  # any failure to parse is the client's
            self.params = {}
            self._parse_error = exc

    def determine_response_protocol(self, service_model: Any) -> str:
        # Always rest-json: moto would pick another protocol from an odd Content-Type.
        return "rest-json"

    def _get_action(self) -> str:
        # moto routes the request anew on each call (four times a request); once is enough.
        if self._action is None:
            self._action = super()._get_action()
        return self._action

    def _operation(self) -> OperationModel:
        model: OperationModel = get_service_model("qconnect").operation_model(self._get_action())
        return model

    def _input(self) -> dict[str, Any]:
        """The request's parameters, once they satisfy the model."""
        if self._parse_error is not None:
            raise ValidationException("1 validation error detected: the request is malformed")
        params: dict[str, Any] = dict(self.params)
        validate_input(self._operation().input_shape, params)
        return params

    # -- knowledge bases ------------------------------------------------------------------

    def create_knowledge_base(self) -> ActionResult:
        params = self._input()
        kb = self.backend.create_knowledge_base(
            params["name"],
            params["knowledgeBaseType"],
            description=params.get("description"),
            tags=params.get("tags"),
        )
        return ActionResult({"knowledgeBase": kb.data()})

    def get_knowledge_base(self) -> ActionResult:
        params = self._input()
        kb = self.backend.get_knowledge_base(params["knowledgeBaseId"])
        return ActionResult({"knowledgeBase": kb.data()})

    def list_knowledge_bases(self) -> ActionResult:
        params = self._input()
        max_results = params.get("maxResults") or self.context.settings.default_page_size
        fault = self.context.page_fault
        request_token = params.get("nextToken")
        kbs, token = self.backend.list_knowledge_bases(
            max_results, request_token, empty_page=fault == "empty_page"
        )
        token = page_token(fault, request_token, token)
        return ActionResult(
            {"knowledgeBaseSummaries": [kb.data() for kb in kbs], "nextToken": token}
        )

    # -- import jobs ----------------------------------------------------------------------

    def start_content_upload(self) -> ActionResult:
        params = self._input()
        kb = self.backend.get_knowledge_base(params["knowledgeBaseId"])
        upload = self.backend.start_content_upload(
            kb,
            params["contentType"],
            params.get("presignedUrlTimeToLive") or _DEFAULT_URL_MINUTES,
            self.context.base_url,
            # The server's clock (set_clock_offset), as its Date headers and the PUT's check.
            now=time.time() + self.context.settings.clock_offset,
        )
        return ActionResult(
            {
                "uploadId": upload.upload_id,
                "url": upload.url,
                "urlExpiry": datetime.fromtimestamp(upload.expires_at, UTC),
                "headersToInclude": dict(upload.headers),
            }
        )

    def start_import_job(self) -> ActionResult:
        params = self._input()
        kb = self.backend.get_knowledge_base(params["knowledgeBaseId"])
        settings = self.context.settings
        job = self.backend.start_import_job(
            kb,
            params,
            completion=settings.completion,
            job_quota=settings.job_quota,
            base_url=self.context.base_url,
        )
        return ActionResult({"importJob": job.data()})

    def get_import_job(self) -> ActionResult | tuple[str, dict[str, Any]]:
        params = self._input()
        kb = self.backend.get_knowledge_base(params["knowledgeBaseId"])
        job = self.backend.get_import_job(kb, params["importJobId"])
        if isinstance(job, RawImportJob):
            # A raw job is sent as stored, past the serialiser that would tidy it.
            return json.dumps({"importJob": job.wire()}), dict(JSON_HEADERS)
        return ActionResult({"importJob": job.data()})

    def list_import_jobs(self) -> tuple[bytes, dict[str, Any]]:
        # Bytes: moto's enrichment (a regex for an XML RequestId over the body) passes them by.
        return list_import_jobs_body(self.backend, self._input(), self.context), dict(JSON_HEADERS)

    def delete_import_job(self) -> ActionResult:
        params = self._input()
        kb = self.backend.get_knowledge_base(params["knowledgeBaseId"])
        self.backend.delete_import_job(kb, params["importJobId"])
        return EmptyResult()


def list_import_jobs_body(
    backend: QConnectBackend, params: Mapping[str, Any], context: RequestContext
) -> bytes:
    """The ListImportJobs response for valid `params`; raises the service's errors.

    Errors are raised before any job is read, so a caller may retry the request elsewhere.
    """
    kb = backend.get_knowledge_base(params["knowledgeBaseId"])
    fault = context.page_fault
    request_token = params.get("nextToken")
    summaries, token = backend.list_import_jobs(
        kb,
        params.get("maxResults") or context.settings.default_page_size,
        request_token,
        empty_page=fault == "empty_page",
    )
    token = page_token(fault, request_token, token)
    # What json.dumps({"importJobSummaries": [...], "nextToken": ...}) writes, from cached parts.
    tail = b"]}" if token is None else b'], "nextToken": ' + json.dumps(token).encode() + b"}"
    return b'{"importJobSummaries": [' + b", ".join(summaries) + tail


# Read by moto through QConnectBackend._url_module, as it reads a service's urls.py.
url_bases = [r"https?://wisdom\.(.+)\.amazonaws\.com"]
url_paths = {"{0}/.*$": QConnectResponse.dispatch}


# -- ListImportJobs without moto's request machinery ----------------------------------------------
# A plain ListImportJobs is answered here from what moto would use: the same account and region,
# the model's constraints (`validate_input`) and the same body (`list_import_jobs_body`).
# Anything else is left to moto (None), so that moto stays the one source of errors: a request it
# must parse (a body, a repeated or non-numeric parameter), input that breaks the model, an
# unknown KB or token, and every request while moto's recorder, its IAM checks or an account
# override (MOTO_ACCOUNT_ID, x-moto-account-id) is on. tests/test_server_registration.py pins the
# moto internals read here.
# A plain ListImportJobs is answered here from what moto would use: the same account and region,
# the model's constraints (`validate_input`) and the same body (`list_import_jobs_body`).
# Anything else is left to moto (None), so that moto stays the one source of errors: a request it
# must parse (a body, a repeated or non-numeric parameter), input that breaks the model, an
# unknown KB or token, and every request while moto's recorder, its IAM checks or an account
# override (MOTO_ACCOUNT_ID, x-moto-account-id) is on. tests/test_server_registration.py pins the
# moto internals read here.
#: moto's access key for a request that names none (BaseResponse.get_access_key).
_NO_ACCESS_KEY = "AKIAEXAMPLE"


@cache
def _input_shape() -> StructureShape | None:
    shape: StructureShape | None = (
        get_service_model("qconnect").operation_model("ListImportJobs").input_shape
    )
    return shape


def _moto_must_answer(environ: Mapping[str, Any], query: Mapping[str, list[str]]) -> bool:
    return bool(
        getattr(recorder, "_user_enabled", True)
        or not math.isinf(moto.settings.INITIAL_NO_AUTH_ACTION_COUNT)
        or "MOTO_ACCOUNT_ID" in os.environ
        or "HTTP_X_MOTO_ACCOUNT_ID" in environ
        or "AWSAccessKeyId" in query
        or environ.get("CONTENT_LENGTH") not in (None, "", "0")
        or "HTTP_TRANSFER_ENCODING" in environ
    )


def _region(environ: Mapping[str, Any]) -> str:
    """BaseResponse.get_region_from_url: the URL's host, the User-Agent, the signature."""
    url = f"{environ.get('HTTP_HOST', '')}{environ.get('RAW_URI', '')}"
    found = BaseResponse.region_regex.search(url) or (
        BaseResponse.region_from_useragent_regex.search(environ.get("HTTP_USER_AGENT", ""))
    )
    if found is not None:
        return str(found.group(1))
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    if "AWS4" in auth:
        return auth.split(",")[0].split("/")[2]
    return BaseResponse.default_region


def _account(environ: Mapping[str, Any]) -> str:
    """BaseResponse.get_current_account, overrides aside: the account of the access key."""
    found = BaseResponse.access_key_regex.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return get_account_id_from(found.group(1) if found is not None else _NO_ACCESS_KEY)


def fast_list_import_jobs(
    environ: Mapping[str, Any],
    knowledge_base_id: str,
    query: Mapping[str, list[str]],
    context: RequestContext,
) -> bytes | None:
    """The response body of a plain ListImportJobs request; None: let moto answer it."""
    if _moto_must_answer(environ, query):
        return None
    params: dict[str, Any] = {"knowledgeBaseId": knowledge_base_id}
    for name in ("maxResults", "nextToken"):
        values = query.get(name)
        if values is None:
            continue
        if len(values) != 1:
            return None
        value = values[0]
        if name == "maxResults":
            if not (value.isascii() and value.isdigit()):
                return None
            params[name] = int(value)
        else:
            params[name] = value
    try:
        validate_input(_input_shape(), params)
        backend = backend_for(_account(environ), _region(environ))
        # Raises before it reads a job, so moto may take the request over from scratch.
        return list_import_jobs_body(backend, params, context)
    except ServiceException:
        return None


# -- presigned URLs, answered as S3 answers them ----------------------------------------------
# PUT to an upload URL stores the body when the URL is valid, unexpired and the request carries
# exactly the headers StartContentUpload named; GET of a report URL returns a failed-record
# report. Errors are S3's: 403 for a bad signature, an unsigned `x-amz-*` header or an expired
# URL; a fault's reply (503 SlowDown, ...) comes from `FaultInjector.decide_upload`.

#: The stats' name of a presigned PUT (S3's operation).
PUT_OPERATION = "PutObject"
#: S3's largest single PUT is 5 GB; the fake keeps uploads in memory, so it takes far less.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def handles_presigned(path: str) -> bool:
    """True for a path of a presigned URL of the fake."""
    return path.startswith((UPLOAD_PREFIX, REPORT_PREFIX))


def _target(path: str, prefix: str) -> tuple[str, str, str] | None:
    parts = path[len(prefix) :].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    account, region, key = (unquote(p) for p in parts)
    return account, region, key


def _signature(environ: Mapping[str, Any]) -> str:
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    return (query.get("X-Amz-Signature") or [""])[0]


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers, lower-case names (WSGI keeps two of them apart)."""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def put_upload(
    environ: dict[str, Any], path: str, faults: FaultInjector, *, now: float | None = None
) -> Reply:
    """A PUT to an upload URL; `now`: the server's clock, which the URL's expiry is on."""
    target = _target(path, UPLOAD_PREFIX)
    if target is None:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    account, region, key = target
    backend = backend_for(account, region)
    with backend.lock:
        upload = backend.uploads_by_key.get(key)
    if upload is None or not secrets.compare_digest(upload.signature, _signature(environ)):
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    fault = faults.decide_upload()
    if fault is not None:
        return fault
    if (time.time() if now is None else now) >= upload.expires_at:
        return s3_error(403, "AccessDenied", "Request has expired")
    headers = _headers(environ)
    named = {name.lower(): value for name, value in upload.headers.items()}
    for name, value in named.items():
        if headers.get(name) != value:
            # What S3 says when a signed header is missing or differs.
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                f"provided: the signed header {name} is missing or differs.",
            )
    unsigned = sorted(h for h in headers if h.startswith("x-amz-") and h not in named)
    if unsigned:
        return s3_error(
            403,
            "AccessDenied",
            f"There were headers present in the request which were not signed: {unsigned[0]}",
        )
    if "transfer-encoding" in headers or not headers.get("content-length", "").isdigit():
        return s3_error(411, "MissingContentLength", "You must provide the Content-Length header.")
    size = int(headers["content-length"])
    if size > MAX_UPLOAD_BYTES:
        return s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum size.")
    body = environ["wsgi.input"].read(size) if size else b""
    if len(body) != size:
        return s3_error(400, "IncompleteBody", "You did not provide the number of bytes specified.")
    backend.store_upload(upload, body)
    etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
    return 200, [("ETag", etag), ("Content-Length", "0")], b""


def get_report(environ: dict[str, Any], path: str) -> Reply:
    """A GET of a failed-record report URL."""
    target = _target(path, REPORT_PREFIX)
    if target is not None:
        account, region, key = target
        report = backend_for(account, region).report(key, _signature(environ))
        if report is not None:
            return 200, [("Content-Type", "text/csv"), ("Content-Length", str(len(report)))], report
    return s3_error(403, "AccessDenied", "Access Denied")


# -- the WSGI layer in front of moto --------------------------------------------------------------
IMPLEMENTED = frozenset(
    {
        "CreateKnowledgeBase",
        "DeleteImportJob",
        "GetImportJob",
        "GetKnowledgeBase",
        "ListImportJobs",
        "ListKnowledgeBases",
        "StartContentUpload",
        "StartImportJob",
    }
)

_log = logging.getLogger("qconnect_async.testing")

#: How far a request's signing time may be from the server's clock (AWS's SigV4 rule).
MAX_SKEW = 300.0
_AMZ_DATE = "%Y%m%dT%H%M%SZ"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _signed_for_wisdom(environ: dict[str, Any]) -> bool:
    # "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/wisdom/aws4_request, ..."
    scope = str(environ.get("HTTP_AUTHORIZATION", "")).split("Credential=", 1)[-1]
    return "/wisdom/aws4_request" in scope.split(",", 1)[0]


def _skew_error(environ: dict[str, Any], now: float) -> ErrorReply | None:
    """AWS's answer to a request signed too far from its clock, or None."""
    stamp = str(environ.get("HTTP_X_AMZ_DATE", ""))
    try:
        signed = datetime.strptime(stamp, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None  # no signing time to check (moto does not check signatures either)

    def at(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime(_AMZ_DATE)

    if signed < now - MAX_SKEW:
        message = f"Signature expired: {stamp} is now earlier than {at(now - MAX_SKEW)} "
        return ErrorReply(403, "InvalidSignatureException", f"{message}({at(now)} - 5 min.)")
    if signed > now + MAX_SKEW:
        message = f"Signature not yet current: {stamp} is still later than {at(now + MAX_SKEW)} "
        return ErrorReply(403, "InvalidSignatureException", f"{message}({at(now)} + 5 min.)")
    return None


def _base_url(environ: dict[str, Any]) -> str:
    """Where this request reached the server: presigned URLs must lead back here."""
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _raw_path(environ: dict[str, Any]) -> str:
    # moto and the service route on the path as sent: an encoded ARN holds %2F.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    return quote(str(environ.get("PATH_INFO", "")))


class QConnectWSGI:
    """Wraps moto's WSGI app for one QConnectServer."""

    def __init__(
        self, app: WSGIApp, state: ServerState, control: Callable[[str, dict[str, Any]], Any]
    ) -> None:
        self.app = app
        self.state = state
        #: runs a control call by name with JSON arguments (`LocalControls._call_json`)
        self.control = control
        # moto's app for qconnect, found by the dispatcher (`app`) for the first request.
        self._service_app: WSGIApp | None = None
        # botocore's qconnect model, loaded now rather than by the first requests: `cache`
        # lets every thread that misses load it, and a fleet of clients starting at once
        # made 32 threads walk botocore's data directory together (5-9 s for a first page).
        _rules()
        _input_shape()  # also fills moto's get_service_model("qconnect") cache

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL_PREFIX):
            reply = self._control(environ, path[len(CONTROL_PREFIX) :])
        elif handles_presigned(path):
            reply = self._presigned(environ, path)
        elif _signed_for_wisdom(environ):
            reply = self._service(environ)
        else:
            return self.app(environ, start_response)
        if reply is DROPPED:
            # A fault: the HTTP server ends the connection with no answer.
            environ[DROP_CONNECTION] = True
        status, headers, body = reply
        start_response(status_line(status), headers)
        return [body]

    def _service(self, environ: dict[str, Any]) -> Reply:
        route = match(str(environ.get("REQUEST_METHOD", "")), _raw_path(environ))
        if route is None:
            return error_reply(ErrorReply(404, "UnknownOperationException", "Unknown operation"))
        operation = route.operation
        query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        recorder = self.state.recorder
        recorder.begin(operation)
        status, fault, throttled = 500, False, False
        try:
            # The signature is checked first, as AWS does: before throttling or any fault.
            skew = _skew_error(environ, self.state.now())
            if skew is not None:
                fault = True
                reply = error_reply(skew)
                status = reply[0]
                return reply
            decision = self.state.faults.decide(
                operation,
                route.labels.get("knowledgeBaseId"),
                has_token=any(query.get("nextToken", ())),
            )
            if decision.latency:
                self.state.faults.hold(decision.latency)
            if operation not in IMPLEMENTED:
                message = f"QConnectServer does not implement {operation}"
                reply = error_reply(ErrorReply(501, "NotImplementedException", message))
            elif decision.reply is not None:
                fault, throttled = True, decision.throttled
                reply = decision.reply
            else:
                fault = decision.page_fault is not None
                context = RequestContext(
                    self.state.settings, decision.page_fault, _base_url(environ)
                )
                body = None
                if operation == "ListImportJobs":
                    body = fast_list_import_jobs(
                        environ, route.labels["knowledgeBaseId"], query, context
                    )
                if body is not None:
                    reply = 200, response_headers(body), body
                else:
                    environ[ENVIRON_KEY] = context
                    reply = self._moto(environ)
            status = reply[0]
            return reply
        except Exception:
            # Never let a bug surface as werkzeug's HTML page: answer like the service would.
            _log.exception("QConnectServer failed on %s", operation)
            return error_reply(ErrorReply(500, "InternalServerException", "Internal error"))
        finally:
            recorder.end(status, fault=fault, throttled=throttled)

    def _presigned(self, environ: dict[str, Any], path: str) -> Reply:
        method = str(environ.get("REQUEST_METHOD", ""))
        if method == "GET":
            return get_report(environ, path)
        if method != "PUT":
            return s3_error(405, "MethodNotAllowed", "The method is not allowed.")
        recorder = self.state.recorder
        recorder.begin(PUT_OPERATION)
        status = 500
        try:
            reply = put_upload(environ, path, self.state.faults, now=self.state.now())
            status = reply[0]
            return reply
        except Exception:
            _log.exception("QConnectServer failed on a presigned PUT")
            return s3_error(500, "InternalError", "We encountered an internal error.")
        finally:
            recorder.end(status, fault=status >= 500, throttled=status == 503)

    def _moto(self, environ: dict[str, Any]) -> Reply:
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        app = self._service_app
        if app is None:
            # moto's dispatcher maps every wisdom-signed request to the same app (ours).
            get_application = getattr(self.app, "get_application", None)
            app = self.app if get_application is None else get_application(environ)
            self._service_app = app
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(str(captured["status"]).split()[0]), list(captured["headers"]), b"".join(chunks)

    def _control(self, environ: dict[str, Any], name: str) -> Reply:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size) if size else b""
            arguments = json.loads(raw) if raw.strip() else {}
            if not isinstance(arguments, dict):
                raise ValueError("the body must be a JSON object of keyword arguments")
            result = self.control(name.strip("/"), arguments)
        except LookupError as exc:
            return json_reply(404, {"error": str(exc)})
        except (TypeError, ValueError) as exc:
            return json_reply(400, {"error": str(exc)})
        return json_reply(200, {"result": result})

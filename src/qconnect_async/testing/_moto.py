"""moto's side of the fake: the backend's registration, and moto's handler for QConnect.

moto has no plugin API (getmoto/moto#7126 was declined), so `register()` leans on two internals,
both pinned by tests/testing/test_server_registration.py:

* `moto.backends.get_backend(name)` imports `moto.<name>` and reads `<name>_backends`: an alias
  in sys.modules makes `moto.qconnect` this module (which also holds moto's `url_bases` and
  `url_paths` for the service, read through `QConnectBackend._url_module`).
* moto's server picks a backend by matching `http://<host>` against
  `moto.backend_index.backend_url_patterns`; a SigV4 request signed for `wisdom` is given the host
  `wisdom.<region>.amazonaws.com`, so one pattern more routes it to us.

moto parses requests from botocore's model (automated parameter parsing); the handler checks them
against the model's constraints (`_model.validate`), and moto serialises modelled errors and most
outputs. ListImportJobs, the hot path of benchmarks, joins the JSON bytes the backend keeps ready
per summary instead of moto's generic serialiser, and a plain one skips moto's dispatcher, Flask,
parsing and enrichment altogether (`fast_list_import_jobs`): they cost more server CPU than
the page itself.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import moto.settings
from botocore.model import StructureShape
from moto.core.exceptions import ServiceException
from moto.core.request import Request
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.utils import get_service_model
from moto.iam.models import get_account_id_from
from moto.moto_api import recorder

from ._backend import MODULE_ALIAS, QConnectBackend, backend_for, qconnect_backends
from ._model import validate
from ._records import ValidationException
from ._state import RequestContext

__all__ = ["qconnect_backends", "register", "url_bases", "url_paths"]

# -- registration with moto -----------------------------------------------------------------------
SERVICE_NAME = "qconnect"
URL_PATTERN = re.compile(r"https?://wisdom\.(.+)\.amazonaws\.com")

_lock = threading.Lock()


def register() -> None:
    """Register the backend with moto; idempotent and thread-safe."""
    import moto.backend_index as backend_index

    with _lock:
        sys.modules[MODULE_ALIAS] = sys.modules[__name__]
        patterns = backend_index.backend_url_patterns
        if not any(name == SERVICE_NAME for name, _ in patterns):
            # In place: moto's dispatcher holds a reference to this very list.
            patterns.append((SERVICE_NAME, URL_PATTERN))


# -- what a request carries to moto's handler -----------------------------------------------------
#: Where the WSGI layer hands moto's handler the RequestContext of a request (a request that
#: reaches moto some other way gets the defaults).
ENVIRON_KEY = "qconnect_async.testing.context"


def _raise_invalid(shape: StructureShape | None, params: Mapping[str, Any]) -> None:
    """Raise the service's ValidationException when `params` break the model."""
    message = validate(shape, params)
    if message is not None:
        raise ValidationException(message)


# -- moto's handler for QConnect ------------------------------------------------------------------
JSON_HEADERS = {"Content-Type": "application/json"}
_DEFAULT_CONTEXT = RequestContext()


class QConnectResponse(BaseResponse):
    """One request to the QConnect API."""

    def __init__(self) -> None:
        super().__init__(service_name="qconnect")
        self.automated_parameter_parsing = True
        self._parse_error: Exception | None = None
        self._action: str | None = None

    @property
    def backend(self) -> QConnectBackend:
        context = self.context
        return backend_for(context.account or self.current_account, context.region or self.region)

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

    def _input(self) -> dict[str, Any]:
        """The request's parameters, once they satisfy the model."""
        if self._parse_error is not None:
            raise ValidationException("1 validation error detected: the request is malformed")
        params: dict[str, Any] = dict(self.params)
        operation = get_service_model("qconnect").operation_model(self._get_action())
        _raise_invalid(operation.input_shape, params)
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
        return ActionResult({"knowledgeBase": kb.data})

    def get_knowledge_base(self) -> ActionResult:
        kb = self.backend.get_knowledge_base(self._input()["knowledgeBaseId"])
        return ActionResult({"knowledgeBase": kb.data})

    def list_knowledge_bases(self) -> ActionResult:
        kbs, token = self.backend.list_knowledge_bases(self._input(), self.context)
        return ActionResult({"knowledgeBaseSummaries": [kb.data for kb in kbs], "nextToken": token})

    # -- import jobs ----------------------------------------------------------------------

    def start_content_upload(self) -> ActionResult:
        upload = self.backend.start_content_upload(self._input(), self.context)
        return ActionResult(
            {
                "uploadId": upload.upload_id,
                "url": upload.url,
                "urlExpiry": datetime.fromtimestamp(upload.expires_at, UTC),
                "headersToInclude": dict(upload.headers),
            }
        )

    def start_import_job(self) -> ActionResult:
        job = self.backend.start_import_job(self._input(), self.context)
        return ActionResult({"importJob": self.backend.job_data(job, self.context)})

    def get_import_job(self) -> ActionResult | tuple[str, dict[str, Any]]:
        job = self.backend.get_import_job(self._input(), self.context)
        if job.raw:
            # A raw job is sent as stored, past the serialiser that would tidy it.
            return json.dumps({"importJob": job.summary}), dict(JSON_HEADERS)
        return ActionResult({"importJob": self.backend.job_data(job, self.context)})

    def list_import_jobs(self) -> tuple[bytes, dict[str, Any]]:
        # Bytes: moto's enrichment (a regex for an XML RequestId over the body) passes them by.
        return list_import_jobs_body(self.backend, self._input(), self.context), dict(JSON_HEADERS)

    def delete_import_job(self) -> ActionResult:
        self.backend.delete_import_job(self._input(), self.context)
        return EmptyResult()


def list_import_jobs_body(
    backend: QConnectBackend, params: Mapping[str, Any], context: RequestContext
) -> bytes:
    """The ListImportJobs response for valid `params`; raises the service's errors.

    Errors are raised before any job is read, so a caller may retry the request elsewhere.
    """
    summaries, token = backend.list_import_jobs(params, context)
    # What json.dumps({"importJobSummaries": [...], "nextToken": ...}) writes, from cached parts.
    tail = b"]}" if token is None else b'], "nextToken": ' + json.dumps(token).encode() + b"}"
    return b'{"importJobSummaries": [' + b", ".join(summaries) + tail


# Read by moto through QConnectBackend._url_module, as it reads a service's urls.py.
url_bases = [URL_PATTERN.pattern]
url_paths = {"{0}/.*$": QConnectResponse.dispatch}


# -- ListImportJobs without moto's request machinery ----------------------------------------------
# A plain ListImportJobs is answered here from what moto's handler would use: the request's
# account and Region (`account_of`, `region_of`, which the handler is given too), the model's
# constraints (`_model.validate`) and the same body (`list_import_jobs_body`). Anything else is
# left to moto (None), so that moto stays the one source of errors: a request it must parse (a
# body, a repeated or non-numeric parameter), input that breaks the model, an unknown KB or
# token, and every request while moto's recorder or its IAM checks are on, or that names
# moto's x-moto-account-id. tests/testing/test_server_registration.py pins the moto internals
# read here.
#: moto's access key for a request that names none (BaseResponse.get_access_key).
_NO_ACCESS_KEY = "AKIAEXAMPLE"


@cache
def _input_shape() -> StructureShape | None:
    shape: StructureShape | None = (
        get_service_model("qconnect").operation_model("ListImportJobs").input_shape
    )
    return shape


def _moto_must_answer(environ: Mapping[str, Any]) -> bool:
    return bool(
        getattr(recorder, "_user_enabled", True)
        or not math.isinf(moto.settings.INITIAL_NO_AUTH_ACTION_COUNT)
        or "HTTP_X_MOTO_ACCOUNT_ID" in environ  # moto's own override (and the tests' way in)
        or environ.get("CONTENT_LENGTH") not in (None, "", "0")
        or "HTTP_TRANSFER_ENCODING" in environ
    )


def region_of(environ: Mapping[str, Any]) -> str:
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


def account_of(environ: Mapping[str, Any], accounts: Mapping[str, str]) -> str:
    """The account a request acts in, in moto's order (BaseResponse.get_current_account):
    MOTO_ACCOUNT_ID, the x-moto-account-id header, then the access key's account, from
    `accounts` (the server's `set_account`), else moto's (its STS and IAM keys, its default)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    mapped = accounts.get(auth.partition("Credential=")[2].partition("/")[0])
    if mapped is not None:
        return mapped
    found = BaseResponse.access_key_regex.search(auth)  # moto reads 20-character keys only
    return get_account_id_from(found.group(1) if found is not None else _NO_ACCESS_KEY)


def fast_list_import_jobs(
    environ: Mapping[str, Any],
    knowledge_base_id: str,
    query: Mapping[str, list[str]],
    context: RequestContext,
) -> bytes | None:
    """The response body of a plain ListImportJobs request; None: let moto answer it."""
    if _moto_must_answer(environ):
        return None
    sizes, tokens = query.get("maxResults", []), query.get("nextToken", [])
    if len(sizes) > 1 or len(tokens) > 1 or not all(v.isascii() and v.isdigit() for v in sizes):
        return None  # a repeated or non-numeric parameter: moto's parser answers it
    params: dict[str, Any] = {"knowledgeBaseId": knowledge_base_id}
    if sizes:
        params["maxResults"] = int(sizes[0])
    if tokens:
        params["nextToken"] = tokens[0]
    try:
        _raise_invalid(_input_shape(), params)
        backend = backend_for(context.account or "", context.region or "")
        # Raises before it reads a job, so moto may take the request over from scratch.
        return list_import_jobs_body(backend, params, context)
    except ServiceException:
        return None

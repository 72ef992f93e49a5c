"""moto's request handler for QConnect: parse, validate, call the backend, serialise.

Requests are parsed by moto from botocore's model (automated parameter parsing) and checked
against the model's constraints; modelled errors and most outputs are serialised by moto from the
model too. ListImportJobs, the hot path of benchmarks, joins the JSON bytes the backend keeps
ready per summary instead (moto's generic serialiser costs ~8 ms per 100-item page); the server
usually answers it without moto at all (`_fastpath`), with the same `list_import_jobs_body`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel
from moto.core.request import Request
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.utils import get_service_model

from ._backend import QConnectBackend, backend_for
from ._context import ENVIRON_KEY, RequestContext
from ._exceptions import ValidationException
from ._models import RawImportJob
from ._validation import validate_input

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
        if fault == "repeat_token" and request_token is not None:
            token = request_token
        if fault == "empty_last_token" and token is None:
            token = ""
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
    if fault == "repeat_token" and request_token is not None:
        token = request_token
    if fault == "empty_last_token" and token is None:
        token = ""
    # What json.dumps({"importJobSummaries": [...], "nextToken": ...}) writes, from cached parts.
    tail = b"]}" if token is None else b'], "nextToken": ' + json.dumps(token).encode() + b"}"
    return b'{"importJobSummaries": [' + b", ".join(summaries) + tail


# Read by moto through QConnectBackend._url_module, as it reads a service's urls.py.
url_bases = [r"https?://wisdom\.(.+)\.amazonaws\.com"]
url_paths = {"{0}/.*$": QConnectResponse.dispatch}

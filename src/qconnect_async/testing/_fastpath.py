"""ListImportJobs without moto's request machinery: the hot path of benchmarks.

Through moto a page costs ~3 ms of server CPU (its dispatcher, Flask, request parsing and
response enrichment), which a client's measured wall time pays for too, the server's threads
sharing its GIL. The plain request is answered here from what moto would use: the same account
and region, the model's constraints (`validate_input`) and the same body
(`list_import_jobs_body`). Anything else is left to moto (None), so that moto stays the one
source of errors: a request it must parse (a body, a repeated or non-numeric parameter), input
that breaks the model, an unknown KB or token, and every request while moto's recorder, its IAM
checks or an account override (MOTO_ACCOUNT_ID, x-moto-account-id) is on.
tests/test_server_registration.py pins the moto internals read here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import moto.settings
from botocore.model import StructureShape
from moto.core.exceptions import ServiceException
from moto.core.responses import BaseResponse
from moto.core.utils import get_service_model
from moto.iam.models import get_account_id_from
from moto.moto_api import recorder

from ._backend import backend_for
from ._context import RequestContext
from ._responses import list_import_jobs_body
from ._validation import validate_input

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


def list_import_jobs(
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

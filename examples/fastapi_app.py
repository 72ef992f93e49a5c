"""A FastAPI service that lists the import jobs of Amazon Q in Connect knowledge bases.

    uvicorn --app-dir examples fastapi_app:app

One QConnectClient serves the whole app: it is opened in the lifespan and closed at shutdown.
Opening one loads botocore's models (a few hundred ms), so never do it per request; and every
request then shares its concurrency limit, retry quota and send rate. Region, credentials and
endpoint come from the usual AWS settings (AWS_DEFAULT_REGION, AWS_PROFILE, ...);
AWS_ENDPOINT_URL_QCONNECT points the client elsewhere, e.g. at the fake service:

    python -m qconnect_async.testing --seed-kbs 3 --jobs-per-kb 250   # prints its URL
    AWS_ENDPOINT_URL_QCONNECT=<that URL> AWS_DEFAULT_REGION=us-east-1 \\
        AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x uvicorn --app-dir examples fastapi_app:app

Endpoints:
    GET /knowledge-bases/{kb}/import-jobs?limit=&cursor=
        One service page per call: {"items": [jobs in the wire shape], "next_cursor": str|null}.
        Pass next_cursor back as cursor for the next page; null means the last page.
    GET /import-jobs?kb=A&kb=B
        Every job of those KBs (of every KB when none is given), streamed as NDJSON.

A page request waits at most PAGE_RATE_WAIT seconds for the client's send rate: past that
it is shed at once (503 with Retry-After, nothing sent), so every answer comes within about
that bound however many requests arrive together, instead of all queueing for the quota.

Errors are JSON {"code", "message", "request_id"}: 422 bad input (a malformed KB ID, limit or
cursor), 403 access denied, 404 no such KB, 503 shed or still throttled after the client's
retries (with Retry-After), 502 any other failure of the service. The OpenAPI document
(/openapi.json, /docs) declares all of it: the Page and Job models, the NDJSON stream, the
error bodies.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_serializer
from starlette.types import Receive, Scope, Send

from qconnect_async import (
    AccessDeniedError,
    ImportJob,
    Listing,
    QConnectClient,
    QConnectError,
    ResourceNotFoundError,
    ThrottlingError,
    ValidationError,
)

logger = logging.getLogger("fastapi_app")

#: Seconds a page request may wait for the send rate before it is shed (503 + Retry-After).
PAGE_RATE_WAIT = 2.0


def make_client() -> QConnectClient:
    """The app's client; set max_concurrency or retry=RetryPolicy(...) here."""
    return QConnectClient()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # `async with` closes the client (and its connection pool) at shutdown, whatever happens.
    async with make_client() as client:
        app.state.qconnect = client
        yield


app = FastAPI(title="Import jobs of Amazon Q in Connect", lifespan=lifespan)


def get_client(request: Request) -> QConnectClient:
    client: QConnectClient = request.app.state.qconnect
    return client


Client = Annotated[QConnectClient, Depends(get_client)]


def wire(job: ImportJob) -> dict[str, Any]:
    """A job as the service sends it: camelCase keys, ISO timestamps."""
    return job.model_dump(by_alias=True, mode="json", exclude_none=True)


# -- the API's schema (the OpenAPI document at /openapi.json and /docs) -----------------------


class Job(BaseModel):
    """An import job, in the service's wire shape: camelCase keys, ISO 8601 UTC times."""

    # Fields the service adds later are passed through, not dropped.
    model_config = ConfigDict(extra="allow")

    importJobId: str
    knowledgeBaseId: str
    uploadId: str
    knowledgeBaseArn: str
    importJobType: str = Field(examples=["QUICK_RESPONSES"])
    status: str = Field(
        examples=["COMPLETE"],
        description="START_IN_PROGRESS, FAILED, COMPLETE, DELETE_IN_PROGRESS, DELETE_FAILED, "
        "DELETED; values the service adds later are passed through",
    )
    createdTime: datetime
    lastModifiedTime: datetime
    metadata: dict[str, str] | None = None
    externalSourceConfiguration: dict[str, Any] | None = Field(
        None,
        examples=[{"source": "AMAZON_CONNECT", "configuration": {"connectConfiguration": {}}}],
    )

    # No return annotation: the document keeps the fields above, not a bare object.
    @model_serializer(mode="wrap")
    def _absent(self, handler):  # type: ignore[no-untyped-def]
        """Fields the service left out stay out (not null)."""
        return {key: value for key, value in handler(self).items() if value is not None}


class Page(BaseModel):
    """One page of a knowledge base's import jobs."""

    items: list[Job]
    next_cursor: str | None = Field(
        description="pass it back as `cursor` for the next page; null on the last page"
    )


class ErrorBody(BaseModel):
    """Every error answer."""

    code: str = Field(examples=["ResourceNotFoundException"])
    message: str
    request_id: str | None = Field(description="the service's request ID, when it was reached")


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "access denied to the knowledge base"},
    404: {"model": ErrorBody, "description": "no such knowledge base"},
    422: {"model": ErrorBody, "description": "a malformed KB ID, limit or cursor"},
    502: {"model": ErrorBody, "description": "the service failed"},
    503: {
        "model": ErrorBody,
        "description": "shed (the send rate is busy) or still throttled after the retries",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    },
}


# -- errors ----------------------------------------------------------------------------------

_STATUS = [
    (ValidationError, 422),
    (AccessDeniedError, 403),
    (ResourceNotFoundError, 404),
    (ThrottlingError, 503),
]


def error_body(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": request_id}


@app.exception_handler(QConnectError)
async def qconnect_error(request: Request, exc: QConnectError) -> JSONResponse:
    status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 502)
    headers = {}
    if status == 503:
        # Shed, or the client already retried: tell the caller when to come back.
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after or 1)))
    elif status == 502:
        logger.warning("the service failed: %s", exc)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.request_id), status_code=status, headers=headers
    )


@app.exception_handler(RequestValidationError)
async def request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's own checks (e.g. limit out of range) answer in the same shape as ours.
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return JSONResponse(error_body("ValidationException", problems), status_code=422)


# -- one page --------------------------------------------------------------------------------


def encode_cursor(knowledge_base_id: str, token: str) -> str:
    """The service's token, bound to its KB: a cursor used on another KB is refused."""
    raw = json.dumps({"kb": knowledge_base_id, "token": token}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, knowledge_base_id: str) -> str:
    """The service's token in ``cursor``; ValidationError (422) for anything not ours.

    The cursor is not signed: a token altered inside it is refused by the service itself
    (ValidationException, 422 here), and access is the credentials' business, not the cursor's.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, RecursionError):  # bad base64, UTF-8 or JSON; JSON nested too deep
        data = None
    if not (isinstance(data, dict) and isinstance(data.get("token"), str)):
        raise ValidationError("the cursor is not valid", code="InvalidCursor")
    if data.get("kb") != knowledge_base_id:
        raise ValidationError("the cursor belongs to another knowledge base", code="InvalidCursor")
    token: str = data["token"]
    return token


# `:path`: an ARN has a slash in it (arn:...:knowledge-base/ID), the route must still match.
@app.get(
    "/knowledge-bases/{kb:path}/import-jobs",
    response_model=Page,
    responses=_ERRORS,
)
async def list_page(
    kb: str,
    client: Client,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=8192)] = None,
) -> dict[str, Any]:
    """One page of a knowledge base's import jobs, and the cursor of the next page."""
    # The listing checks the KB (an ID or an ARN, which ends in its ID) now, before any request.
    listing = client.list_import_jobs(kb, page_size=limit, max_rate_wait=PAGE_RATE_WAIT)
    kb_id = kb.rsplit("/", 1)[-1]
    token = None if cursor is None else decode_cursor(cursor, kb_id)
    async with listing:  # one page only: leaving ends the listing
        page = await anext(listing.pages(starting_token=token))
    next_cursor = None if page.next_token is None else encode_cursor(kb_id, page.next_token)
    return {"items": [wire(job) for job in page.items], "next_cursor": next_cursor}


# -- a stream across knowledge bases ---------------------------------------------------------


class NDJSONStream(StreamingResponse):
    """Job lines, ended by the listing's end, a final error line, or the client leaving.

    StreamingResponse's own loop stops on a disconnect by cancelling the stream through an
    anyio cancel scope, which cancels every later await too: the listing's clean-up, which
    waits for its tasks to end, is cancelled over and over (under uvicorn it spun for ever).
    Here a disconnect only stops the loop at the next line, and the listing is closed, never
    cancelled; it is closed however the response ends, even if no line was ever sent.
    """

    media_type = "application/x-ndjson"  # also what the OpenAPI document declares

    def __init__(self, first: ImportJob | None, jobs: Listing[ImportJob]) -> None:
        self._lines = _lines(first, jobs)
        self._jobs = jobs
        super().__init__(self._lines, media_type=self.media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.create_task(_disconnected(receive))
        try:
            start = {"status": self.status_code, "headers": self.raw_headers}
            await send({"type": "http.response.start", **start})
            async for line in self._lines:
                if gone.done():
                    return
                await send({"type": "http.response.body", "body": line, "more_body": True})
                await asyncio.sleep(0)  # let the server notice a client that is gone
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # servers of ASGI spec 2.4 raise on a send to a client that is gone
            return
        finally:
            gone.cancel()
            await self._lines.aclose()
            await self._jobs.aclose()


async def _lines(first: ImportJob | None, jobs: Listing[ImportJob]) -> AsyncGenerator[bytes, None]:
    def line(value: Any) -> bytes:
        return json.dumps(value).encode() + b"\n"

    if first is None:
        return
    yield line(wire(first))
    # The status (200) and headers are sent already: an error from here on cannot become an
    # HTTP status. It ends the stream with one last line {"error": {...}}, so a reader can tell
    # a failed stream from a complete one.
    try:
        async for job in jobs:
            yield line(wire(job))
    except QConnectError as exc:
        body = error_body(exc.code, exc.message, exc.request_id)
        yield line({"error": {**body, "knowledge_base_id": exc.knowledge_base_id}})
    except Exception:
        logger.exception("listing import jobs failed mid-stream")
        yield line({"error": error_body("InternalError", "internal error")})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


_STREAM = {
    200: {
        "model": Job,
        "description": "One Job a line (NDJSON). A failure after the first line ends the "
        'stream with a last line {"error": {code, message, request_id, knowledge_base_id}}.',
    }
}


@app.get(
    "/import-jobs",
    response_class=NDJSONStream,
    status_code=200,  # NDJSONStream.__init__ takes no status_code for FastAPI to read
    responses={**_STREAM, **_ERRORS},
)
async def stream_jobs(
    client: Client, kb: Annotated[list[str] | None, Query()] = None
) -> StreamingResponse:
    """Every import job of the KBs given (of every KB when none is), as NDJSON."""
    # Both check their arguments now: a bad KB ID is a 422, not a stream that fails.
    jobs = client.list_import_jobs_many(kb) if kb else client.list_all_import_jobs()
    # Wait for the first job before answering: most failures (access denied, no such KB)
    # come with the first requests, and can still become a proper HTTP status.
    try:
        first: ImportJob | None = await anext(jobs)
    except StopAsyncIteration:
        first = None
    return NDJSONStream(first, jobs)


def openapi() -> dict[str, Any]:
    """FastAPI's document, with the stream's answers declared as they are sent.

    FastAPI gives every answer of a route the media type of its response class, and a body
    of a non-JSON class the schema {"type": "string"}: here the 200 is NDJSON lines of Job,
    and the errors (sent before the stream starts) are JSON.
    """
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        responses = schema["paths"]["/import-jobs"]["get"]["responses"]
        for status, response in responses.items():
            (body,) = response["content"].values()
            if status == "200":
                body = {"schema": {"$ref": "#/components/schemas/Job"}}
                response["content"] = {NDJSONStream.media_type: body}
            else:
                response["content"] = {"application/json": body}
    return app.openapi_schema


app.openapi = openapi  # type: ignore[method-assign]

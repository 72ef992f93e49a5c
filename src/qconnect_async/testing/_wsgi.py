"""The WSGI app of a QConnectServer: moto's app with the fake's own work in front.

Requests signed for `wisdom` (the qconnect signing name) are routed from botocore's model,
given their account and Region, counted, checked for clock skew, delayed, throttled or failed
here before moto sees them; presigned URLs are answered by `_s3`, control calls
(`POST /moto-api/qconnect/<call>` with a JSON object of keyword arguments, answered
`{"result": ...}`) by the server's controls; everything else (moto's own `/moto-api/...`,
other services, STS included) passes through to moto untouched. Requests for qconnect skip
moto's dispatcher, which looks for the service anew on each request: the Flask app it picks for
the first one is kept.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from botocore import xform_name

from ._faults import PUT_OPERATION
from ._model import Route, match, model, rules
from ._moto import (
    ENVIRON_KEY,
    QConnectResponse,
    _input_shape,
    account_of,
    fast_list_import_jobs,
    region_of,
)
from ._replies import (
    DROPPED,
    ErrorReply,
    Reply,
    call,
    error_reply,
    json_reply,
    response_headers,
    s3_error,
    status_line,
)
from ._s3 import get_file, handles_presigned, put_upload
from ._state import CONTROL_PREFIX, RequestContext, ServerState

#: Set in the environ: the HTTP server closes the connection without sending the reply.
DROP_CONNECTION = "qconnect_async.testing.drop_connection"

_log = logging.getLogger("qconnect_async.testing")

#: How far a request's signing time may be from the server's clock (AWS's SigV4 rule).
MAX_SKEW = 300.0
_AMZ_DATE = "%Y%m%dT%H%M%SZ"

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


_ACCESS_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_EXPIRATION = re.compile(rb"<Expiration>[^<]*</Expiration>")


def _assumes_role(environ: dict[str, Any]) -> bool:
    """Whether the request is STS AssumeRole (query protocol); its body stays readable."""
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return b"Action=AssumeRole&" in body + b"&"


class QConnectWSGI:
    """Wraps moto's WSGI app for one QConnectServer."""

    def __init__(
        self, app: WSGIApp, state: ServerState, control: Callable[[str, dict[str, Any]], Any]
    ) -> None:
        self.app = app
        self.state = state
        #: runs a control call by name with JSON arguments (`QConnectServer._call_json`)
        self.control = control
        # moto's app for qconnect, found by the dispatcher (`app`) for the first request.
        self._service_app: WSGIApp | None = None
        # botocore's qconnect model, loaded now rather than by the first requests: `cache`
        # lets every thread that misses load it, and clients starting at once would each
        # walk botocore's data directory.
        rules()
        _input_shape()  # also fills moto's get_service_model("qconnect") cache
        #: the operations moto's handler answers (a method each); any other is a 501
        self._implemented = {
            op for op in model().operation_names if xform_name(op) in vars(QConnectResponse)
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL_PREFIX):
            reply = self._control(environ, path[len(CONTROL_PREFIX) :])
        elif handles_presigned(path):
            reply = self._presigned(environ, path)
        elif _signed_for_wisdom(environ):
            reply = self._service(environ)
        elif self.state.settings.role_lifetime is not None and _assumes_role(environ):
            reply = self._assume_role(environ, self.state.settings.role_lifetime)
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
        failed = error_reply(ErrorReply(500, "InternalServerException", "Internal error"))
        return self._counted(route.operation, lambda: self._answer(environ, route), failed)

    def _answer(self, environ: dict[str, Any], route: Route) -> tuple[Reply, bool, bool]:
        """The reply to a request for qconnect; whether it is a fault, and a throttle."""
        # The signature is checked first, as AWS does: before throttling or any fault.
        skew = _skew_error(environ, self.state.now()) or self._expired(environ)
        if skew is not None:
            return error_reply(skew), True, False
        operation, kb = route.operation, route.labels.get("knowledgeBaseId")
        query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        account, region = account_of(environ, self.state.accounts), region_of(environ)
        has_token = any(query.get("nextToken", ()))
        decision = self.state.faults.decide(
            operation, kb, has_token=has_token, account=account, region=region
        )
        if decision.latency:
            self.state.faults.hold(decision.latency)
        if operation not in self._implemented:
            message = f"QConnectServer does not implement {operation}"
            return error_reply(ErrorReply(501, "NotImplementedException", message)), False, False
        if decision.reply is not None:
            return decision.reply, True, decision.throttled
        now, page_fault = self.state.now(), decision.page_fault
        context = RequestContext(
            self.state.settings, page_fault, _base_url(environ), now, account, region
        )
        body = None
        if operation == "ListImportJobs" and kb is not None:
            body = fast_list_import_jobs(environ, kb, query, context)
        if body is None:
            environ[ENVIRON_KEY] = context
            reply = self._moto(environ)
        else:
            reply = (200, response_headers(body), body)
        if decision.lose_answer and reply[0] < 300:
            return DROPPED, True, False  # the work is done; its answer never leaves
        return reply, page_fault is not None, False

    def _assume_role(self, environ: dict[str, Any], lifetime: float) -> Reply:
        """moto's AssumeRole, its credentials made to expire ``lifetime`` seconds from now."""
        status, headers, body = call(self.app, environ)
        expires = self.state.now() + lifetime
        found = _ACCESS_KEY.search(body)
        if status != 200 or found is None:
            return status, headers, body
        self.state.key_expiry[found.group(1).decode()] = expires
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = _EXPIRATION.sub(f"<Expiration>{stamp}</Expiration>".encode(), body)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        return status, headers, body

    def _expired(self, environ: dict[str, Any]) -> ErrorReply | None:
        """AWS's answer to a request signed with AssumeRole keys past their expiry, or None."""
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        key = auth.partition("Credential=")[2].partition("/")[0]
        expires = self.state.key_expiry.get(key)
        if expires is None or self.state.now() < expires:
            return None
        message = "The security token included in the request is expired"
        return ErrorReply(403, "ExpiredTokenException", message)

    def _presigned(self, environ: dict[str, Any], path: str) -> Reply:
        method = str(environ.get("REQUEST_METHOD", ""))
        if method == "GET":
            return get_file(environ, path, self.state.now())
        if method != "PUT":
            return s3_error(405, "MethodNotAllowed", "The method is not allowed.")

        def put() -> tuple[Reply, bool, bool]:
            reply = put_upload(environ, path, self.state.faults, now=self.state.now())
            return reply, reply[0] >= 500, reply[0] == 503

        failed = s3_error(500, "InternalError", "We encountered an internal error.")
        return self._counted(PUT_OPERATION, put, failed)

    def _counted(
        self, operation: str, answer: Callable[[], tuple[Reply, bool, bool]], failed: Reply
    ) -> Reply:
        """`answer()`'s reply, counted in the stats; `failed` if it raises."""
        self.state.recorder.begin(operation)
        reply, fault, throttled = failed, False, False
        try:
            reply, fault, throttled = answer()
        except Exception:
            # Never let a bug surface as werkzeug's HTML page: answer like the service would.
            _log.exception("QConnectServer failed on %s", operation)
        finally:
            self.state.recorder.end(reply[0], fault=fault, throttled=throttled)
        return reply

    def _moto(self, environ: dict[str, Any]) -> Reply:
        app = self._service_app
        if app is None:
            # moto's dispatcher maps every wisdom-signed request to the same app (ours).
            get_application = getattr(self.app, "get_application", None)
            app = self.app if get_application is None else get_application(environ)
            self._service_app = app
        return call(app, environ)

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

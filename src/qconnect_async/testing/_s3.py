"""The presigned URLs of the fake, answered as S3 answers them.

StartContentUpload's URL and the download links of GetImportJob name this server, wherever it
runs, not moto's S3: their faults are injected like every other, and the check S3 makes of a
presigned PUT (every signed header present with its value, no unsigned `x-amz-*` header, not
expired) is ours to state; moto does not enforce it. Their errors are S3's XML.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug.datastructures import EnvironHeaders

from ._backend import backend_for
from ._faults import FaultInjector
from ._records import FILES_PREFIX, UPLOAD_PREFIX
from ._replies import Reply, s3_error

#: S3's largest single PUT is 5 GB; the fake keeps uploads in memory, so it takes far less.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
_MISMATCH = "The request signature we calculated does not match the signature you provided"


def handles_presigned(path: str) -> bool:
    """True for a path of a presigned URL of the fake."""
    return path.startswith((UPLOAD_PREFIX, FILES_PREFIX))


def _target(path: str, prefix: str) -> tuple[str, str, str] | None:
    parts = path[len(prefix) :].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    account, region, key = (unquote(p) for p in parts)
    return account, region, key


def _signature(environ: Mapping[str, Any]) -> str:
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    return (query.get("X-Amz-Signature") or [""])[0]


def put_upload(environ: dict[str, Any], path: str, faults: FaultInjector, *, now: float) -> Reply:
    """A PUT to an upload URL; `now`: the server's clock, which the URL's expiry is on."""
    target = _target(path, UPLOAD_PREFIX)
    if target is None:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    account, region, key = target
    backend = backend_for(account, region)
    with backend.lock:
        upload = backend.uploads_by_key.get(key)
    if upload is None or not secrets.compare_digest(upload.signature, _signature(environ)):
        return s3_error(403, "SignatureDoesNotMatch", f"{_MISMATCH}.")
    fault = faults.decide_upload()
    if fault is not None:
        return fault
    if now >= upload.expires_at:
        return s3_error(403, "AccessDenied", "Request has expired")
    headers = EnvironHeaders(environ)  # names in any case
    signed = {name.lower(): value for name, value in upload.headers.items()}
    wrong = [name for name, value in signed.items() if headers.get(name) != value]
    if wrong:
        # What S3 says when a signed header is missing or differs.
        message = f"{_MISMATCH}: the signed header {wrong[0]} is missing or differs."
        return s3_error(403, "SignatureDoesNotMatch", message)
    names = map(str.lower, headers.keys())
    unsigned = sorted(h for h in names if h.startswith("x-amz-") and h not in signed)
    if unsigned:
        message = f"There were headers present in the request which were not signed: {unsigned[0]}"
        return s3_error(403, "AccessDenied", message)
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


def get_file(environ: dict[str, Any], path: str, now: float) -> Reply:
    """A GET of a download link: an imported file or a failed-record report."""
    target = _target(path, FILES_PREFIX)
    if target is None:
        return s3_error(403, "AccessDenied", "Access Denied")
    account, region, key = target
    query = {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
    backend = backend_for(account, region)
    with backend.lock:
        found = backend.files.open(key, query, now)
    if isinstance(found, str):
        return s3_error(403, "AccessDenied", found)
    body, content_type = found
    return 200, [("Content-Type", content_type), ("Content-Length", str(len(body)))], body

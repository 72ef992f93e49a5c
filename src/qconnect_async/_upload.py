"""The PUT of an import's content to its presigned URL: one attempt, S3's errors typed.

aiobotocore's HTTP session is not public, so uploads have a small aiohttp ClientSession of
their own, opened on the first upload and closed with the client. A file is streamed from
disk in chunks read in a worker thread (the loop never blocks on the disk, the file is never
held in memory whole); each attempt reads it again from the start. Nothing here puts the URL
(a secret: it carries the signature) into an error message, an exception's cause or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import BinaryIO

import aiohttp

from ._call import Call
from ._errors import (
    AccessDeniedError,
    QConnectError,
    TransportError,
    ValidationError,
    error_for_code,
    retry_after_seconds,
)

__all__ = ["PUT_OPERATION", "Uploader", "file_size", "is_expired_url"]

#: The operation named on errors and retries of the PUT (S3's name for it).
PUT_OPERATION = "PutObject"
#: Bytes read from a file per chunk: large enough to keep the thread hops few.
_CHUNK = 256 * 1024
#: What S3 answers (403 AccessDenied) for a presigned URL past its expiry.
_EXPIRED_MESSAGE = "request has expired"


def file_size(path: Path) -> int:
    """The size of a regular, non-empty file; ValidationError otherwise. Blocking: use a thread."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ValidationError(f"no such file: {str(path)[:300]!r}") from None
    except OSError as exc:
        raise ValidationError(f"cannot read {str(path)[:300]!r}: {exc.strerror}") from None
    if not path.is_file():
        raise ValidationError(f"not a regular file: {str(path)[:300]!r}")
    if stat.st_size == 0:
        raise ValidationError(f"the file is empty: {str(path)[:300]!r}")
    return stat.st_size


def is_expired_url(error: QConnectError) -> bool:
    """Whether a PUT failed because its presigned URL had expired (then: a new upload)."""
    return isinstance(error, AccessDeniedError) and _EXPIRED_MESSAGE in error.message.lower()


async def _chunks(handle: BinaryIO, size: int) -> AsyncGenerator[bytes, None]:
    left = size
    while left > 0:
        chunk = await asyncio.to_thread(handle.read, min(_CHUNK, left))
        if not chunk:
            break  # the file shrank under us: the server sees a short body and says so
        left -= len(chunk)
        yield chunk


class Uploader:
    """PUTs to presigned URLs for one client."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def put(
        self,
        call: Call,
        url: str,
        headers: Mapping[str, str],
        content: bytes | Path,
        *,
        size: int,
        url_expiry: float | None = None,
    ) -> None:
        """One PUT of ``content`` (``size`` bytes) with exactly ``headers``; raises typed errors."""
        fields = call.error_fields()
        if url_expiry is not None and time.time() >= url_expiry:
            # Known expired (retries took that long): no need to ask S3 to say so.
            raise AccessDeniedError("Request has expired", code="AccessDenied", **fields)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        # Content-Length given: aiohttp sends the stream as is, never chunked (S3 refuses that).
        sent = {**headers, "Content-Length": str(size)}
        handle: BinaryIO | None = None
        stream: AsyncGenerator[bytes, None] | None = None
        try:
            if not isinstance(content, bytes):
                handle = await asyncio.to_thread(content.open, "rb")
                stream = _chunks(handle, size)
            data = content if stream is None else stream
            async with self._session.put(url, data=data, headers=sent) as response:
                body = await response.read()
                status = response.status
                request_id = response.headers.get("x-amz-request-id")
                retry_after = response.headers.get("Retry-After")
        except aiohttp.InvalidURL:
            # Its message is the URL itself: not chained.
            raise ValidationError("the upload URL is not a valid URL", **fields) from None
        except aiohttp.ClientResponseError as exc:
            # Redirects and bad answers: the error holds the URL (request_info): not chained.
            raise TransportError(type(exc).__name__, code=type(exc).__name__, **fields) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # Connection errors name the host and port, never the path or the signature.
            message = "the upload timed out" if isinstance(exc, TimeoutError) else str(exc)
            raise TransportError(message[:300], code=type(exc).__name__, **fields) from exc
        finally:
            # aiohttp stops reading the stream once Content-Length bytes are out, leaving it
            # suspended: close it and the file here, not whenever the GC gets to them.
            if stream is not None:
                # RuntimeError: cancelled while aiohttp's writer was still inside it.
                with contextlib.suppress(RuntimeError):
                    await stream.aclose()
            if handle is not None:
                await asyncio.to_thread(handle.close)
        if status < 300:
            return
        code, message = _s3_error(body, status)
        cls = error_for_code(code, status)
        raise cls(
            message,
            code=code,
            http_status=status,
            request_id=request_id,
            retry_after=retry_after_seconds(retry_after),
            **fields,
        )


def _s3_error(body: bytes, status: int) -> tuple[str, str]:
    """(Code, Message) of S3's XML error body; the status when the body says nothing."""
    try:
        root = ET.fromstring(body)  # S3's own answer (no entities to expand in practice)
    except ET.ParseError:
        return str(status), f"the upload failed with HTTP {status}"
    code = (root.findtext("Code") or str(status)).strip()
    message = (root.findtext("Message") or code).strip()
    return code[:100], message[:500]

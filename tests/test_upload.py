"""The PUT of an import's content, against a real HTTP server of our own: S3's errors typed."""

from __future__ import annotations

import asyncio
import email.utils
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from qconnect_async import (
    AccessDeniedError,
    QConnectClient,
    QConnectError,
    ServiceError,
    ThrottlingError,
    TransportError,
    ValidationError,
)
from qconnect_async._call import Call
from qconnect_async._upload import _CHUNK, PUT_OPERATION, Uploader
from qconnect_async.testing import QConnectServer

#: The client's defaults (TransportOptions): the uploader has none of its own.
TIMEOUTS = {"connect_timeout": 5.0, "read_timeout": 20.0}

KB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your rate.</Message></Error>"

Reply = Callable[[], web.Response]
Handler = Callable[[web.Request], Awaitable[web.Response]]


@asynccontextmanager
async def serving_put(handler: Handler) -> AsyncIterator[str]:
    """A local HTTP server on port 0 answering PUT /upload with ``handler``: its URL."""
    app = web.Application()
    app.router.add_put("/upload", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/upload"
    finally:
        await runner.cleanup()


@pytest.fixture
async def put_url() -> AsyncIterator[Callable[[Reply], str]]:
    """A local HTTP server on port 0 answering PUT /upload as the test says."""
    replies: list[Reply] = []

    async def upload(request: web.Request) -> web.Response:
        await request.read()
        return replies[-1]()

    async with serving_put(upload) as address:

        def url(reply: Reply) -> str:
            replies.append(reply)
            return address

        yield url


async def put(url: str, expected: type[QConnectError] = ThrottlingError) -> QConnectError:
    """One PUT that is expected to fail with ``expected``: its error."""
    uploader = Uploader(**TIMEOUTS)
    call = Call(PUT_OPERATION, KB, upload_id="u-1")
    try:
        with pytest.raises(expected) as info:
            await uploader.put(call, url, {"Content-Type": "text/csv"}, b"a,b\n", size=4)
    finally:
        await uploader.close()
    return info.value


async def test_an_upload_honours_an_http_date_retry_after(
    put_url: Callable[[Reply], str],
) -> None:
    """S3's 503 SlowDown with an HTTP-date Retry-After: the error waits until that date."""
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    error = await put(
        put_url(lambda: web.Response(status=503, body=SLOW_DOWN, headers={"Retry-After": when}))
    )
    assert error.code == "SlowDown" and error.http_status == 503
    assert error.retry_after is not None and 27 <= error.retry_after <= 30


async def test_an_upload_error_carries_its_call(put_url: Callable[[Reply], str]) -> None:
    """The PUT's error is built complete from its Call: operation, KB and upload id; and from
    S3's answer: its request ID and Retry-After."""
    headers = {"Retry-After": "2", "x-amz-request-id": "REQ-1"}
    error = await put(put_url(lambda: web.Response(status=503, body=SLOW_DOWN, headers=headers)))
    assert (error.operation, error.knowledge_base_id, error.upload_id) == (PUT_OPERATION, KB, "u-1")
    assert (error.retry_after, error.request_id) == (2.0, "REQ-1")


async def test_an_upload_url_that_is_not_a_url_is_a_validation_error_with_its_call() -> None:
    """A presigned URL aiohttp cannot read: ValidationError saying so (never quoting the URL,
    a secret), with the PUT's call."""
    uploader = Uploader(**TIMEOUTS)
    call = Call(PUT_OPERATION, KB, upload_id="u-1")
    try:
        with pytest.raises(ValidationError) as info:
            await uploader.put(call, "http://", {}, b"a", size=1)
    finally:
        await uploader.close()
    error = info.value
    assert error.message == "the upload URL is not a valid URL"
    assert (error.operation, error.upload_id) == (PUT_OPERATION, "u-1")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>Bad gateway</body></html", "text/html"),  # not XML
        (b"<Error><Message>Bad gateway</Message></Error>", "application/xml"),  # no Code
    ],
)
async def test_an_s3_error_that_names_no_code_is_named_by_its_status(
    put_url: Callable[[Reply], str], body: bytes, content_type: str
) -> None:
    """A 502 whose body is not S3's XML, or names no Code: the status is the error's code."""
    url = put_url(lambda: web.Response(status=502, body=body, content_type=content_type))
    error = await put(url, ServiceError)
    assert (error.code, error.http_status) == ("502", 502)
    if content_type == "text/html":
        assert error.message == "the upload failed with HTTP 502"


async def test_s3_s_code_and_message_are_cut_to_100_and_500_characters(
    put_url: Callable[[Reply], str],
) -> None:
    """An S3 error's Code and Message are kept to 100 and 500 characters."""
    body = f"<Error><Code>{'C' * 150}</Code><Message>{'m' * 600}</Message></Error>".encode()
    error = await put(put_url(lambda: web.Response(status=400, body=body)), ServiceError)
    assert (error.code, error.message) == ("C" * 100, "m" * 500)


async def test_a_put_refused_as_access_denied_is_not_taken_for_an_expired_url(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """403 AccessDenied without "Request has expired": raised as it is, no new upload asked
    for (an expired URL's refusal is answered with a new upload)."""
    kb = qconnect_server.create_knowledge_base("kb")
    qconnect_server.fail_uploads(status=403, code="AccessDenied", message="Access Denied")
    with pytest.raises(AccessDeniedError, match="Access Denied"):
        await client.start_import_job(kb, b"Name,Content\nHi,There\n")
    assert qconnect_server.stats.requests.get("StartContentUpload") == 1


async def test_a_file_a_byte_longer_than_a_chunk_is_uploaded_whole(
    client: QConnectClient, qconnect_server: QConnectServer, tmp_path: Path
) -> None:
    """A file of one chunk and one byte is read in two and sent whole."""
    kb = qconnect_server.create_knowledge_base("kb")
    content = b"Name,Content\n" + b"x" * (_CHUNK + 1 - len(b"Name,Content\n"))
    path = tmp_path / "big.csv"
    path.write_bytes(content)
    job = await client.start_import_job(kb, path)
    assert qconnect_server.uploaded(job.upload_id) == content


async def test_a_path_that_cannot_be_read_says_which_cut_to_300_characters(
    client: QConnectClient, tmp_path: Path
) -> None:
    """No such file, or a path through a regular file: ValidationError naming the path, its
    first 300 characters."""
    missing = tmp_path / ("x" * 250) / ("y" * 100)
    with pytest.raises(ValidationError) as info:
        await client.start_import_job(KB, missing)
    assert info.value.message == f"no such file: {str(missing)[:300]!r}"
    regular = tmp_path / "file.csv"
    regular.write_bytes(b"Name,Content\n")
    through = regular / ("z" * 300)
    with pytest.raises(ValidationError) as info:
        await client.start_import_job(KB, through)
    assert info.value.message == f"cannot read {str(through)[:300]!r}: Not a directory"
    directory = tmp_path / ("d" * 200) / ("e" * 150)
    directory.mkdir(parents=True)
    with pytest.raises(ValidationError) as info:
        await client.start_import_job(KB, directory)
    assert info.value.message == f"not a regular file: {str(directory)[:300]!r}"
    empty = directory / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError) as info:
        await client.start_import_job(KB, empty)
    assert info.value.message == f"the file is empty: {str(empty)[:300]!r}"


async def test_a_url_known_expired_is_refused_without_a_request(
    put_url: Callable[[Reply], str],
) -> None:
    """A URL past its expiry (retries took that long): AccessDeniedError as S3 would answer,
    with the PUT's call, and nothing sent."""
    answered: list[str] = []
    url = put_url(lambda: answered.append("PUT") or web.Response(status=200))
    uploader = Uploader(**TIMEOUTS)
    call = Call(PUT_OPERATION, KB, upload_id="u-1", region="eu-west-2")
    try:
        with pytest.raises(AccessDeniedError) as info:
            await uploader.put(call, url, {}, b"a,b\n", size=4, url_expiry=time.time() - 1)
    finally:
        await uploader.close()
    error = info.value
    assert (error.code, error.message) == ("AccessDenied", "Request has expired")
    assert (error.operation, error.upload_id, error.region) == (PUT_OPERATION, "u-1", "eu-west-2")
    assert answered == []


async def failed_put(uploader: Uploader, url: str) -> TransportError:
    """One small PUT expected to fail with a TransportError within 10 s: its error."""
    async with asyncio.timeout(10):
        with pytest.raises(TransportError) as info:
            await uploader.put(Call(PUT_OPERATION, KB), url, {}, b"a", size=1)
    return info.value


async def test_an_upload_that_gets_no_answer_ends_at_its_read_timeout() -> None:
    """A server that takes the body and never answers: TransportError "the upload timed out"
    after the uploader's read timeout (0.2 s here), not aiohttp's five minutes."""
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await request.read()
        await release.wait()
        return web.Response(status=200)

    uploader = Uploader(connect_timeout=5.0, read_timeout=0.2)
    async with serving_put(silent) as url:
        try:
            error = await failed_put(uploader, url)
        finally:
            release.set()
            await uploader.close()
    assert error.message == "the upload timed out"
    # coded by aiohttp's timeout error (SocketTimeoutError today), the error it chains
    assert error.code == type(error.__cause__).__name__
    assert error.code.endswith("TimeoutError")


async def test_an_upload_whose_connection_is_never_accepted_ends_at_its_connect_timeout() -> None:
    """A host that never answers the TCP handshake (its accept queue full): TransportError
    "the upload timed out" after the uploader's connect timeout (0.2 s here)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    host, port = listener.getsockname()
    fillers = []
    for _ in range(4):  # fill the accept queue: the handshakes after them get no answer
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex((host, port))
        fillers.append(filler)
    uploader = Uploader(connect_timeout=0.2, read_timeout=20.0)
    try:
        error = await failed_put(uploader, f"http://{host}:{port}/upload")
    finally:
        await uploader.close()
        for sock in [*fillers, listener]:
            sock.close()
    assert error.message == "the upload timed out"


async def test_an_upload_refused_a_connection_says_why_named_by_its_error() -> None:
    """No server at the URL's port: TransportError in aiohttp's words (host and port, never
    the path), coded by aiohttp's error class, with the PUT's call."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    error = await put(f"http://127.0.0.1:{port}/upload?X-Amz-Signature=s", TransportError)
    assert error.code == "ClientConnectorError"
    assert f"127.0.0.1:{port}" in error.message
    assert "upload" not in error.message and "Signature" not in error.message
    assert (error.operation, error.upload_id) == (PUT_OPERATION, "u-1")


async def test_an_answer_of_300_is_not_a_success(put_url: Callable[[Reply], str]) -> None:
    """Only 2xx is an upload done: a 300 (not a redirect aiohttp follows) is an error with
    its status."""
    error = await put(put_url(lambda: web.Response(status=300)), QConnectError)
    assert error.http_status == 300


async def test_an_upload_redirected_without_end_is_a_transport_error_naming_only_its_kind(
    put_url: Callable[[Reply], str],
) -> None:
    """S3 answering a redirect to the same URL again and again: TransportError named by
    aiohttp's error (TooManyRedirects), with the PUT's call; the URL is never quoted."""
    url = ""

    def again() -> web.Response:
        return web.Response(status=307, headers={"Location": url})

    url = put_url(again)
    error = await put(url, TransportError)
    assert (error.code, error.message) == ("TooManyRedirects", "TooManyRedirects")
    assert (error.operation, error.upload_id) == (PUT_OPERATION, "u-1")


async def test_a_file_gone_before_its_put_is_a_transport_error_cut_to_300_characters(
    put_url: Callable[[Reply], str], tmp_path: Path
) -> None:
    """A file removed after its checks, before the PUT reads it: TransportError coded by the
    OSError it chains, in its words cut to 300 characters."""
    gone = tmp_path / ("x" * 200) / ("y" * 200)
    uploader = Uploader(**TIMEOUTS)
    try:
        with pytest.raises(TransportError) as info:
            await uploader.put(
                Call(PUT_OPERATION, KB), put_url(lambda: web.Response()), {}, gone, size=4
            )
    finally:
        await uploader.close()
    cause = info.value.__cause__
    assert isinstance(cause, FileNotFoundError) and len(str(cause)) > 300
    assert info.value.code == "FileNotFoundError"
    assert info.value.message == str(cause)[:300]


async def test_a_put_cancelled_while_aiohttp_reads_its_file_ends_cancelled_and_closes_it(
    tmp_path: Path,
) -> None:
    """A PUT cancelled while aiohttp's writer waits inside the file's stream (a slow read):
    the put ends cancelled, not with an error of its clean-up, and the file is closed."""
    arrived = asyncio.Event()

    async def upload(request: web.Request) -> web.Response:
        arrived.set()
        await request.read()
        return web.Response(status=200)  # pragma: no cover - the client cancels first

    fifo = tmp_path / "slow.csv"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # a file whose reads wait for what the test writes
    uploader = Uploader(**TIMEOUTS)
    async with serving_put(upload) as url:
        try:
            put = asyncio.create_task(
                uploader.put(Call(PUT_OPERATION, KB), url, {}, fifo, size=_CHUNK + 1)
            )
            await asyncio.to_thread(_write_all, writer, b"x" * _CHUNK)  # the first chunk only
            async with asyncio.timeout(10):
                await arrived.wait()  # the first chunk is out: the second read waits for the file
            put.cancel()
            for _ in range(10):  # the put's clean-up runs (no I/O: a few turns of the loop)
                await asyncio.sleep(0)
            os.close(writer)  # the read waiting in the writer gets an end of file
            writer = -1
            with pytest.raises(asyncio.CancelledError):
                await put
        finally:
            if writer >= 0:
                os.close(writer)
            await uploader.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

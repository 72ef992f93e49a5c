"""The PUT of an import's content, against a real HTTP server of our own: S3's errors typed."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from qconnect_async import ThrottlingError
from qconnect_async._call import Call
from qconnect_async._upload import PUT_OPERATION, Uploader

KB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your rate.</Message></Error>"

Reply = Callable[[], web.Response]


@pytest.fixture
async def put_url() -> AsyncIterator[Callable[[Reply], str]]:
    """A local HTTP server on port 0 answering PUT /upload as the test says."""
    replies: list[Reply] = []

    async def upload(request: web.Request) -> web.Response:
        await request.read()
        return replies[-1]()

    app = web.Application()
    app.router.add_put("/upload", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]

    def url(reply: Reply) -> str:
        replies.append(reply)
        return f"http://{host}:{port}/upload"

    yield url
    await runner.cleanup()


async def put(url: str) -> ThrottlingError:
    """One PUT that is expected to fail: its error."""
    uploader = Uploader()
    call = Call(PUT_OPERATION, KB, upload_id="u-1")
    try:
        with pytest.raises(ThrottlingError) as info:
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
    """The PUT's error is built complete from its Call: operation, KB and upload id."""
    error = await put(
        put_url(lambda: web.Response(status=503, body=SLOW_DOWN, headers={"Retry-After": "2"}))
    )
    assert (error.operation, error.knowledge_base_id, error.upload_id) == (PUT_OPERATION, KB, "u-1")
    assert error.retry_after == 2.0

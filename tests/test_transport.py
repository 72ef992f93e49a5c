"""The listing fast path: same requests as botocore's ordinary path, same errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from qconnect_async import (
    AccessDeniedError,
    QConnectClient,
    RetryPolicy,
    ThrottlingError,
    TransportError,
)
from qconnect_async.testing import QConnectServer


@pytest.fixture
async def client(qconnect_server: QConnectServer) -> AsyncIterator[QConnectClient]:
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as c:
        yield c


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 25)
    return kb_id


def spy_requests(client: QConnectClient, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every prepared request the aiobotocore endpoint sends."""
    assert client._transport is not None
    endpoint = client._transport._client._endpoint
    sent: list[Any] = []
    original = endpoint._send

    async def send(request: Any) -> Any:
        sent.append(request)
        return await original(request)

    monkeypatch.setattr(endpoint, "_send", send)
    return sent


def fast_path_ready(client: QConnectClient) -> bool:
    assert client._transport is not None and client._transport._fast is not None
    return client._transport._fast.ready


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=(\w+)")


async def test_fast_requests_match_the_ordinary_ones(
    client: QConnectClient, kb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first page, requests have botocore's URL, headers and SigV4 scope."""
    sent = spy_requests(client, monkeypatch)
    assert not fast_path_ready(client)
    pages = [p async for p in client.list_import_jobs(kb, page_size=10).pages()]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert fast_path_ready(client)
    ordinary, *fast = sent
    assert len(fast) == 2
    for request in fast:
        assert request.method == ordinary.method == "GET"
        a, b = urlsplit(ordinary.url), urlsplit(request.url)
        assert (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)
        assert parse_qs(b.query)["maxResults"] == ["10"]
        assert "nextToken" in parse_qs(b.query)
        assert set(ordinary.headers) - {"amz-sdk-invocation-id", "amz-sdk-request"} <= set(
            request.headers
        )
        assert request.headers["User-Agent"] == ordinary.headers["User-Agent"]
        ours = _AUTH.match(_text(request.headers["Authorization"]))
        theirs = _AUTH.match(_text(ordinary.headers["Authorization"]))
        assert ours and theirs
        assert ours.group(1).split("/", 1)[1] == theirs.group(1).split("/", 1)[1]  # scope
        assert ours.group(1).endswith("/us-east-1/wisdom/aws4_request")
        assert ours.group(2) == theirs.group(2)  # the same signed headers


async def test_fast_path_serves_other_kbs_with_their_own_path(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """The learnt template is per client, the KB in the path is per request."""
    other = qconnect_server.create_knowledge_base("other")
    jobs = set(qconnect_server.add_import_jobs(other, 7))
    assert len([j async for j in client.list_import_jobs(kb)]) == 25
    assert fast_path_ready(client)
    assert {j.import_job_id async for j in client.list_import_jobs(other)} == jobs


async def test_fast_path_errors_are_typed_like_the_ordinary_ones(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """A 403 on a fast-path page has code, status, request id, resume token and cause."""
    pages = client.list_import_jobs(kb, page_size=10).pages()
    first = await anext(pages)
    assert fast_path_ready(client)
    qconnect_server.fail(code="AccessDeniedException", status=403, message="no", times=1)
    with pytest.raises(AccessDeniedError) as info:
        await anext(pages)
    err = info.value
    assert (err.code, err.http_status, err.message) == ("AccessDeniedException", 403, "no")
    assert err.request_id
    assert err.next_token == first.next_token
    assert isinstance(err.__cause__, ClientError)


async def test_fast_path_throttles_are_retried_with_retry_after(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """A throttled fast-path page carries Retry-After into the retry, then succeeds."""
    seen: list[Any] = []
    policy = RetryPolicy(on_retry=seen.append)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, retry=policy) as c:
        pages = c.list_import_jobs(kb, page_size=10).pages()
        items = len((await anext(pages)).items)
        assert fast_path_ready(c)
        qconnect_server.throttle(times=1, retry_after=1)
        items += sum([len(p.items) async for p in pages])
    assert items == 25
    [details] = seen
    assert isinstance(details.cause, ThrottlingError)
    assert details.cause.http_status == 429
    assert details.cause.retry_after == 1.0


async def test_connection_refused_is_a_transport_error(qconnect_server: QConnectServer) -> None:
    """No server at the endpoint: TransportError after the attempts allowed."""
    async with QConnectClient(
        endpoint_url="http://127.0.0.1:9", retry=RetryPolicy(max_attempts=2)
    ) as client:
        with pytest.raises(TransportError) as info:
            async for _ in client.list_import_jobs("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"):
                pass
    assert info.value.operation == "ListImportJobs"

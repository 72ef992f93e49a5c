"""QConnectServer speaks HTTP as AWS does: kept-alive connections, one Server header."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from qconnect_async.testing import QConnectServer

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/wisdom/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0"
)
SIGNED = {"Authorization": AUTH}
# Any header moto must read hands a request to moto: here, the default account named outright.
VIA_MOTO = {**SIGNED, "x-moto-account-id": "123456789012"}


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb = qconnect_server.create_knowledge_base()
    qconnect_server.add_import_jobs(kb, 250)
    return kb


@pytest.fixture
def connection(qconnect_server: QConnectServer) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", qconnect_server.port, timeout=10)
    yield connection
    connection.close()


def get(
    connection: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request("GET", path, headers=SIGNED if headers is None else headers)
    response = connection.getresponse()
    return response, response.read()


def test_every_response_has_one_server_header(
    qconnect_server: QConnectServer, connection: http.client.HTTPConnection, kb: str
) -> None:
    """werkzeug's Server and moto's `server` would be two: aiohttp in dev mode refuses that."""
    paths = [
        (f"/knowledgeBases/{kb}/importJobs", SIGNED),  # the fast path
        (f"/knowledgeBases/{kb}/importJobs", VIA_MOTO),  # moto
        (f"/knowledgeBases/{kb}/importJobs?maxResults=0", SIGNED),  # moto's error
        (f"/knowledgeBases/{kb}", SIGNED),  # another operation
        ("/knowledgeBases/x/quickResponses/search", SIGNED),  # not implemented
        ("/moto-api/qconnect/stats", {}),  # control
        ("/moto-api/", {}),  # moto's own
    ]
    qconnect_server.throttle("GetKnowledgeBase")
    paths.append((f"/knowledgeBases/{kb}", SIGNED))  # a fault
    for path, headers in paths:
        response, _ = get(connection, path, headers)
        servers = [v for k, v in response.getheaders() if k.lower() == "server"]
        assert servers == ["amazon.com"], (path, response.status, servers)


def test_connection_is_kept_alive_for_200_requests(
    qconnect_server: QConnectServer, connection: http.client.HTTPConnection, kb: str
) -> None:
    """One TCP connection serves request after request, GETs and POSTs with bodies alike."""
    connection.connect()
    local = connection.sock.getsockname()
    for i in range(200):
        if i % 10 == 9:
            body = json.dumps({"size": 100}).encode()
            connection.request("POST", "/moto-api/qconnect/set_default_page_size", body=body)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"result": None})
            continue
        response, body = get(connection, f"/knowledgeBases/{kb}/importJobs?maxResults=100")
        assert response.status == 200
        assert response.getheader("Connection") is None
        assert len(json.loads(body)["importJobSummaries"]) == 100
        assert connection.sock is not None and connection.sock.getsockname() == local
    assert qconnect_server.stats.requests == {"ListImportJobs": 180}


def test_errors_and_moto_responses_keep_the_connection(
    connection: http.client.HTTPConnection, kb: str
) -> None:
    """A 4xx from moto, a 501 and a page through moto leave the connection usable."""
    connection.connect()
    local = connection.sock.getsockname()
    for path, headers, status in [
        (f"/knowledgeBases/{kb}/importJobs?maxResults=0", SIGNED, 400),
        ("/knowledgeBases/x/quickResponses/search", SIGNED, 501),
        (f"/knowledgeBases/{kb}/importJobs", VIA_MOTO, 200),
        ("/moto-api/qconnect/nope", {}, 404),
        (f"/knowledgeBases/{kb}/importJobs", SIGNED, 200),
    ]:
        response, _ = get(connection, path, headers)
        assert response.status == status, path
        assert connection.sock is not None and connection.sock.getsockname() == local


def test_concurrent_keep_alive_clients(qconnect_server: QConnectServer, kb: str) -> None:
    """Eight clients, each on its own connection, page through at once without a hang."""
    errors: list[BaseException] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", qconnect_server.port, timeout=10)
        try:
            for _ in range(25):
                response, body = get(connection, f"/knowledgeBases/{kb}/importJobs?maxResults=50")
                assert response.status == 200
                assert len(json.loads(body)["importJobSummaries"]) == 50
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    stats = qconnect_server.stats
    assert stats.requests == {"ListImportJobs": 200}
    assert stats.max_in_flight > 1


def test_client_asking_to_close_gets_a_closed_connection(
    connection: http.client.HTTPConnection, kb: str
) -> None:
    """`Connection: close` and HTTP/1.0 are honoured, as werkzeug did for every request."""
    response, _ = get(connection, f"/knowledgeBases/{kb}", {**SIGNED, "Connection": "close"})
    assert response.status == 200
    assert response.getheader("Connection") == "close"
    with socket.create_connection(("127.0.0.1", connection.port), timeout=10) as raw:
        raw.sendall(f"GET /knowledgeBases/{kb} HTTP/1.0\r\nAuthorization: {AUTH}\r\n\r\n".encode())
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")


def test_chunked_request_body_still_served(
    qconnect_server: QConnectServer, connection: http.client.HTTPConnection
) -> None:
    """A body without a Content-Length goes through werkzeug's own path."""
    connection.request(
        "POST",
        "/moto-api/qconnect/create_knowledge_base",
        body=iter([b'{"name": ', b'"chunked"}']),
        encode_chunked=True,
        headers={"Transfer-Encoding": "chunked"},
    )
    response = connection.getresponse()
    kb = json.loads(response.read())["result"]
    assert response.status == 200
    assert qconnect_server.knowledge_base_ids() == [kb]


def test_stop_ends_idle_kept_alive_connections() -> None:
    """A stopped server answers nothing, not even on a connection a client kept."""
    with QConnectServer() as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            response, _ = get(connection, "/moto-api/qconnect/info", {})
            assert response.status == 200
            server.stop()
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                get(connection, "/moto-api/qconnect/info", {})
        finally:
            connection.close()


def listing(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> Any:
    response, body = get(connection, path, headers)
    data = json.loads(body)
    if "nextToken" in data:
        data["nextToken"] = "<token>"  # tokens carry a nonce
    return response.status, response.getheader("x-amzn-ErrorType"), data


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?maxResults=7",
        "?maxResults=100",
        "?maxResults=1&maxResults=2",
        "?maxResults=0",
        "?maxResults=101",
        "?maxResults=-1",
        "?maxResults=+5",
        "?maxResults=many",
        "?nextToken=",
        "?nextToken=garbage",
        "?maxResults=5&unknown=1",
    ],
)
def test_fast_listing_answers_as_moto_does(
    qconnect_server: QConnectServer, connection: http.client.HTTPConnection, kb: str, query: str
) -> None:
    """ListImportJobs answered without moto gives moto's answer, errors included."""
    for target in (kb, qconnect_server.knowledge_base_arn(kb), "not-a-kb", "0" * 8):
        path = f"/knowledgeBases/{target.replace('/', '%2F')}/importJobs{query}"
        assert listing(connection, path, SIGNED) == listing(connection, path, VIA_MOTO), path


def test_fast_listing_follows_tokens_and_faults_as_moto_does(
    qconnect_server: QConnectServer, connection: http.client.HTTPConnection, kb: str
) -> None:
    """Pages, tokens (either path's work in the other) and page faults agree."""
    first = json.loads(get(connection, f"/knowledgeBases/{kb}/importJobs?maxResults=60")[1])
    path = f"/knowledgeBases/{kb}/importJobs?maxResults=60&nextToken={first['nextToken']}"
    assert listing(connection, path, SIGNED) == listing(connection, path, VIA_MOTO)
    for fault in ("empty_page", "repeat_token"):
        results = []
        for headers in (SIGNED, VIA_MOTO):
            getattr(qconnect_server, fault)()
            response, body = get(connection, path, headers)
            data = json.loads(body)
            results.append((response.status, len(data["importJobSummaries"]), "nextToken" in data))
            if fault == "repeat_token":
                assert data["nextToken"] == first["nextToken"]
        assert results[0] == results[1], fault


def test_plain_listing_skips_moto(connection: http.client.HTTPConnection, kb: str) -> None:
    """The hot path is answered by the server itself (a UUID request ID; moto's are longer)."""
    fast, _ = get(connection, f"/knowledgeBases/{kb}/importJobs")
    slow, _ = get(connection, f"/knowledgeBases/{kb}/importJobs", VIA_MOTO)
    assert len(fast.getheader("x-amzn-RequestId", "")) == 36
    assert len(slow.getheader("x-amzn-RequestId", "")) != 36


def test_fast_listing_finds_data_of_another_region(qconnect_server: QConnectServer) -> None:
    """The region comes from the signature, as moto takes it: a KB made in eu-west-2 lists."""
    client = boto3.client(
        "qconnect",
        endpoint_url=qconnect_server.endpoint_url,
        region_name="eu-west-2",
        config=Config(retries={"total_max_attempts": 1}),
    )
    try:
        kb = client.create_knowledge_base(name="far", knowledgeBaseType="QUICK_RESPONSES")
        kb_id = kb["knowledgeBase"]["knowledgeBaseId"]
        assert client.list_import_jobs(knowledgeBaseId=kb_id)["importJobSummaries"] == []
        assert kb_id not in qconnect_server.knowledge_base_ids()  # us-east-1's
    finally:
        client.close()


def test_http_1_0_keep_alive_request_is_closed(kb: str, qconnect_server: QConnectServer) -> None:
    """An HTTP/1.0 client asking for keep-alive gets werkzeug's close, never a hang."""
    request = (
        f"GET /knowledgeBases/{kb} HTTP/1.0\r\nConnection: keep-alive\r\n"
        f"Authorization: {AUTH}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", qconnect_server.port), timeout=10) as raw:
        raw.sendall(request.encode())
        received = b""
        while chunk := raw.recv(65536):  # ends only if the server closes
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close\r\n" in received


def test_the_service_model_is_loaded_when_the_server_starts() -> None:
    """Loaded before any request: clients starting at once do not each load botocore's model.

    (`functools.cache` lets every thread that misses compute: 32 first requests at once took
    5-9 s on a 2-core machine, each thread walking botocore's data directory.)
    """
    from moto.core.utils import get_service_model

    from qconnect_async.testing import _model, _moto

    for cached in (_model.rules, _moto._input_shape, get_service_model):
        cached.cache_clear()
    with QConnectServer():
        assert _model.rules.cache_info().currsize == 1
        assert _moto._input_shape.cache_info().currsize == 1
        assert get_service_model.cache_info().currsize == 1  # moto's, used per request

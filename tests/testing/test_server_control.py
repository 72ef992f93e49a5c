"""The HTTP control endpoint, RemoteQConnectServer, moto's reset, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from _server_helpers import NO_RETRY
from botocore.exceptions import ClientError

from qconnect_async.testing import QConnectServer, RemoteQConnectServer


def make_client(endpoint_url: str) -> Any:
    return boto3.client(
        "qconnect", endpoint_url=endpoint_url, region_name="us-east-1", config=NO_RETRY
    )


@pytest.fixture
def client(qconnect_server: QConnectServer) -> Iterator[Any]:
    client = make_client(qconnect_server.endpoint_url)
    yield client
    client.close()


def post(url: str, payload: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def test_remote_controls_match_the_in_process_ones(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """RemoteQConnectServer seeds, faults and reads stats over HTTP."""
    remote = RemoteQConnectServer(qconnect_server.endpoint_url)
    assert (remote.region, remote.account_id) == ("us-east-1", "123456789012")
    kb = remote.create_knowledge_base("remote")
    ids = remote.add_import_jobs(kb, 3, status="COMPLETE")
    raw = remote.add_raw_import_job(kb, {"status": "PAUSED"})
    assert remote.knowledge_base_ids() == qconnect_server.knowledge_base_ids() == [kb]
    remote.throttle(times=1, retry_after=2)
    with pytest.raises(ClientError) as caught:
        client.list_import_jobs(knowledgeBaseId=kb)
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "2"
    jobs = client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"]
    assert [j["importJobId"] for j in jobs] == [*ids, raw]
    assert remote.stats == qconnect_server.stats
    assert remote.stats.throttled == 1
    remote.random_faults(1.0, seed=1, errors=[("Boom", 500)])
    with pytest.raises(ClientError, match="Boom"):
        client.list_import_jobs(knowledgeBaseId=kb)
    remote.reset()
    assert qconnect_server.knowledge_base_ids() == []
    with pytest.raises(ValueError, match="times"):
        remote.throttle(times=0)
    with pytest.raises(LookupError):
        remote.add_import_jobs("00000000-0000-0000-0000-000000000000", 1)


def test_control_endpoint_speaks_json(qconnect_server: QConnectServer) -> None:
    """POST /moto-api/qconnect/<call> takes keyword arguments; errors are 400 or 404 JSON."""
    base = f"{qconnect_server.endpoint_url}/moto-api/qconnect"
    assert post(f"{base}/seed", {"knowledge_bases": 2, "jobs_per_kb": 3})[0] == 200
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as response:
        assert json.load(response)["result"]["requests"] == {}
    assert post(f"{base}/set_rate_limit", {"rate": -1})[0] == 400
    assert post(f"{base}/throttle", {"bogus": 1})[0] == 400
    assert post(f"{base}/throttle", [1, 2])[0] == 400
    assert post(f"{base}/shutdown", {})[0] == 404
    status, body = post(f"{base}/knowledge_base_ids", {})
    assert status == 200 and len(body["result"]) == 2


def test_motos_reset_clears_the_qconnect_backend(
    qconnect_server: QConnectServer, client: Any
) -> None:
    """POST /moto-api/reset forgets QConnect data like any moto service's."""
    qconnect_server.seed(1, 1)
    assert client.list_knowledge_bases()["knowledgeBaseSummaries"]
    request = urllib.request.Request(
        f"{qconnect_server.endpoint_url}/moto-api/reset", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert client.list_knowledge_bases()["knowledgeBaseSummaries"] == []
    assert qconnect_server.knowledge_base_ids() == []


def test_two_servers_keep_their_own_faults_and_counts(qconnect_server: QConnectServer) -> None:
    """Data is moto's (shared); faults, settings and stats belong to each server."""
    with QConnectServer() as other:
        assert other.endpoint_url != qconnect_server.endpoint_url
        kb = qconnect_server.create_knowledge_base()
        qconnect_server.throttle(times=None)
        client = make_client(other.endpoint_url)
        try:
            assert client.list_import_jobs(knowledgeBaseId=kb)["importJobSummaries"] == []
        finally:
            client.close()
        assert other.stats.total_requests == 1
        assert qconnect_server.stats.total_requests == 0
    assert not other.running
    with pytest.raises(RuntimeError):
        _ = other.endpoint_url


def test_a_busy_port_fails_fast(qconnect_server: QConnectServer) -> None:
    """Starting on a port in use raises instead of hanging (moto's own server would hang)."""
    with pytest.raises(OSError, match="cannot listen"):
        QConnectServer(port=qconnect_server.port).start()


def test_cli_serves_seeded_data_until_interrupted() -> None:
    """`python -m qconnect_async.testing` prints its URL, seeds, rate-limits, stops on SIGTERM."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qconnect_async.testing",
            "--port",
            "0",
            "--seed-kbs",
            "2",
            "--jobs-per-kb",
            "150",
            "--rate-limit",
            "0.1",
            "--burst",
            "2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        remote = RemoteQConnectServer(url)
        kbs = remote.knowledge_base_ids()
        assert len(kbs) == 2
        client = make_client(url)
        try:
            pages = client.get_paginator("list_import_jobs").paginate(knowledgeBaseId=kbs[0])
            assert sum(len(p["importJobSummaries"]) for p in pages) == 150  # 2 requests
            with pytest.raises(ClientError, match="ThrottlingException"):
                client.list_import_jobs(knowledgeBaseId=kbs[1])
        finally:
            client.close()
        assert remote.stats.throttled == 1
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stdout is not None
        process.stdout.close()


def test_every_control_is_declared_once_for_both_servers() -> None:
    """Each public control method is one declaration, shared by QConnectServer and the remote."""
    from qconnect_async.testing._control import CONTROLS, ServerControls

    public = {
        name
        for name in dir(ServerControls)
        if not name.startswith("_") and name not in ("endpoint_url", "knowledge_base_arn")
    }
    declared = {call.body.__name__ for call in CONTROLS.values()}
    assert public <= declared
    for name in public:
        assert name not in vars(QConnectServer) and name not in vars(RemoteQConnectServer), name
    assert "info" in CONTROLS and "stats" in CONTROLS


def test_a_new_control_declared_once_works_in_process_and_over_http(
    qconnect_server: QConnectServer,
) -> None:
    """A control written once (signature, checks, body) runs in-process and through the remote."""
    from qconnect_async.testing._control import CONTROLS, ServerControls, control

    @control()
    def add_kbs(self: ServerControls, count: int, *, prefix: str = "kb") -> list[str]:
        if count < 0:
            raise ValueError("count must be >= 0")
        return [self.create_knowledge_base(f"{prefix}-{i}") for i in range(count)]

    try:
        local = add_kbs(qconnect_server, 1, prefix="here")
        remote = RemoteQConnectServer(qconnect_server.endpoint_url)
        over_http = add_kbs(remote, 2, prefix="there")
        assert qconnect_server.knowledge_base_ids() == [*local, *over_http]
        with pytest.raises(ValueError, match="count"):
            add_kbs(remote, -1)
        with pytest.raises(TypeError):
            add_kbs(remote, 1, 2)  # refused before any request is sent
    finally:
        del CONTROLS["add_kbs"]


def test_the_remote_drives_a_server_without_moto_installed(
    qconnect_server: QConnectServer,
) -> None:
    """RemoteQConnectServer imports no moto, werkzeug or flask: it works where they are absent."""
    script = (
        "import sys\n"
        "for name in ('moto', 'werkzeug', 'flask'):\n"
        "    sys.modules[name] = None  # any import of them fails\n"
        "from qconnect_async.testing import RemoteQConnectServer\n"
        "remote = RemoteQConnectServer(sys.argv[1])\n"
        "kb = remote.create_knowledge_base('far')\n"
        "remote.add_import_jobs(kb, 2)\n"
        "remote.throttle(times=1)\n"
        "print(remote.knowledge_base_ids() == [kb], remote.stats.total_requests)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, qconnect_server.endpoint_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "0"]


def test_a_server_owning_its_process_settles_its_heap_after_seeding() -> None:
    """Seeded over HTTP, a standalone server freezes its heap: no long full collections.

    (Its gen-2 pauses with 48,000 jobs held requests back and let them reach the token bucket
    together: throttles no client caused.) A server in a test process never freezes.
    """
    import gc

    with QConnectServer() as server:
        remote = RemoteQConnectServer(server.endpoint_url)
        try:
            remote.seed(1, 5)
            assert gc.get_freeze_count() == 0  # not asked to: this is a test process
            server.settle_after_changes = True
            remote.seed(1, 5)
            assert gc.get_freeze_count() > 0
        finally:
            gc.unfreeze()

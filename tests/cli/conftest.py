"""Fixtures of the CLI's tests: the fake service found as botocore finds it, its KBs, boto3."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from qconnect_async.testing import QConnectServer


@pytest.fixture
def boto(qconnect_server: QConnectServer) -> Any:
    return boto3.client(
        "qconnect",
        endpoint_url=qconnect_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def server(qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch) -> QConnectServer:
    """The fake service, found through AWS_ENDPOINT_URL_QCONNECT as botocore does."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    return qconnect_server


@pytest.fixture
def kb(server: QConnectServer) -> str:
    """One knowledge base of 25 varied jobs (statuses, metadata, external sources)."""
    kb_id = server.create_knowledge_base("first")
    server.add_import_jobs(kb_id, 25)
    return kb_id


@pytest.fixture
def empty_kb(server: QConnectServer) -> str:
    """A knowledge base with no jobs, whose started jobs complete at their first read."""
    server.set_job_completion(after_reads=0)
    return server.create_knowledge_base("imports")


@pytest.fixture
def no_aws(tmp_path: Path) -> dict[str, str]:
    """An environment without any AWS variable, and a HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    return env


class _HtmlPage(http.server.BaseHTTPRequestHandler):
    """What a wrong endpoint (a proxy, a web site) answers: a big HTML page and a 404."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><head><title>Not Found</title></head><body>"
        body += b"<p>nothing here</p>" * 500 + b"</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()
        thread.join()

"""Logging never leaks: all loggers at DEBUG (botocore's too), no token, secret or signature."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from qconnect_async import AccessDeniedError, ImportJobFailedError, QConnectClient
from qconnect_async._redact import REDACTED, redact
from qconnect_async.testing import QConnectServer

SECRET = "SECRETdoNotLeak0123456789abcdefghijklmnop"
TOKEN = "TOKENdoNotLeak/IQoJb3JpZ2luX2VjEJr+//////////wEaCXVzLWVhc3QtMSJH=="
ACCESS_KEY = "ASIAEXAMPLEKEY123456"
_SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")


class _Everything(logging.Handler):
    """Keeps every record any logger emits, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Root and every existing logger at DEBUG; all records captured."""
    handler = _Everything()
    root = logging.getLogger()
    levels: dict[logging.Logger, int] = {}
    for logger in [root, *(logging.getLogger(n) for n in list(root.manager.loggerDict))]:
        levels[logger] = logger.level
        logger.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


def _leaks(lines: list[str], signatures: frozenset[str] = frozenset()) -> list[str]:
    secrets = {SECRET, TOKEN, ACCESS_KEY, *signatures}
    return [line for line in lines if any(s in line for s in secrets)]


def _record_signatures(client: QConnectClient) -> set[str]:
    """The signatures of every request the client sends (from botocore's before-send event)."""
    seen: set[str] = set()

    def on_send(request: Any, **_: Any) -> None:
        value = request.headers["Authorization"]
        text = value.decode() if isinstance(value, bytes) else value
        seen.update(_SIGNATURE.findall(text))

    client._ops.transport._client.meta.events.register("before-send.qconnect", on_send)  # type: ignore[union-attr]
    return seen


async def test_a_listing_with_a_session_token_logs_no_secret(
    every_log_line: list[str], qconnect_server: QConnectServer
) -> None:
    """Pages, a retry and an error at DEBUG everywhere: no token, secret key or signature."""
    kb = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb, 25)
    qconnect_server.throttle(times=1)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
    ) as client:
        signatures = _record_signatures(client)
        assert len([j async for j in client.list_import_jobs(kb, page_size=10)]) == 25
        qconnect_server.fail(code="AccessDeniedException", status=403, times=1)
        with pytest.raises(AccessDeniedError):
            async for _ in client.list_import_jobs(kb):
                pass
    botocore_lines = [line for line in every_log_line if line.startswith(("botocore", "aio"))]
    # botocore did log the canonical and the prepared requests: they were redacted, not lost.
    assert any("CanonicalRequest" in line for line in botocore_lines)
    assert any("Sending http request" in line and REDACTED in line for line in botocore_lines)
    # 5 requests (3 pages, a throttled attempt, the 403); a retry sent within the same second
    # as its attempt signs identically, so 4 or 5 distinct signatures.
    assert 4 <= len(signatures) <= 5
    assert _leaks(every_log_line, frozenset(signatures)) == []


async def test_other_code_s_botocore_lines_are_left_alone(
    every_log_line: list[str], qconnect_server: QConnectServer
) -> None:
    """The filter rewrites only records logged inside our calls."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url):
        logging.getLogger("botocore.auth").debug("Signature:\n%s", "ab" * 32)
    assert any(line.endswith("ab" * 32) for line in every_log_line)


def test_redact_covers_each_shape_botocore_logs() -> None:
    """Header dicts, canonical request lines, Authorization and presigned query strings."""
    samples: list[Any] = [
        f"headers={{'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
        f"Credential={ACCESS_KEY}/20260101/us-east-1/wisdom/aws4_request, "
        f"SignedHeaders=host, Signature={'0a' * 32}'}}",
        f"host:wisdom.us-east-1.amazonaws.com\nx-amz-security-token:{TOKEN}\n",
        f"Signature:\n{'0b' * 32}",
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential={ACCESS_KEY}%2F20260101&"
        f"X-Amz-Security-Token={TOKEN}&X-Amz-Signature={'0c' * 32}",
    ]
    signatures = frozenset(c * 32 for c in ("0a", "0b", "0c"))
    for sample in samples:
        assert _leaks([redact(sample)], signatures) == [], redact(sample)
    body = 'b\'{"url": "https://b.s3.amazonaws.com/u/1?X-Amz-Date=1&X-Amz-Signature=ab12&x=y"}\''
    assert redact(body) == f'b\'{{"url": "{REDACTED}"}}\''  # a presigned URL goes whole


async def test_an_import_logs_no_presigned_url(
    every_log_line: list[str], qconnect_server: QConnectServer
) -> None:
    """Upload, start, wait and get at DEBUG everywhere: no presigned URL in any line."""
    kb = qconnect_server.create_knowledge_base("kb")
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
    ) as client:
        started = await client.start_import_job(kb, b"Name,Content\nhello,world\nno content,\n")
        with pytest.raises(ImportJobFailedError):  # a row without content: a report URL too
            await client.wait_for_import_job(kb, started.import_job_id, timeout=30)
        job = await client.get_import_job(kb, started.import_job_id)
    assert job.url is not None and job.failed_record_report is not None
    urls = {job.url.get_secret_value(), job.failed_record_report.get_secret_value()}
    # The in-process fake's own access log (werkzeug) is the service's, not the client's.
    lines = [line for line in every_log_line if not line.startswith("werkzeug")]
    # botocore logged the response bodies that carry them: redacted there, not lost.
    assert any("Response body" in line for line in lines)
    assert [line for line in lines if "X-Amz-Signature" in line] == []
    assert [line for line in lines if any(u in line for u in urls)] == []
    assert _leaks(lines) == []

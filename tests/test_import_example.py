"""examples/import_quick_responses.py: upload a CSV, wait, print the failed rows on failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from _scripts import load_example
from qconnect_async import QConnectClient
from qconnect_async.testing import QConnectServer

example = load_example("import_quick_responses")


@pytest.fixture
def server(qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch) -> QConnectServer:
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    return qconnect_server


def test_a_good_csv_is_imported(
    server: QConnectServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() uploads the file, waits, says complete, exits 0; the server has the bytes."""
    kb = server.create_knowledge_base()
    path = tmp_path / "quick.csv"
    path.write_bytes(b"Name,Content\nHello,Hi there\n")
    assert example.main([kb, str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].endswith("complete")
    upload_id = out.split("(upload ")[1].split(")")[0]
    assert server.uploaded(upload_id) == path.read_bytes()


def test_a_failed_import_prints_its_bad_rows(
    server: QConnectServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows without a Name or Content come back from the report, one line each; exit 1."""
    kb = server.create_knowledge_base()
    path = tmp_path / "quick.csv"
    path.write_bytes(b"Name,Content\nHello,Hi there\n,No name\nNo content,\n")
    assert example.main([kb, str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("failed: 2 bad rows")
    assert [line.split(":")[0] for line in lines[2:]] == ["  row 2", "  row 3"]
    assert "X-Amz-Signature" not in "\n".join(lines)


async def test_a_job_still_running_at_the_timeout_exits_3(
    server: QConnectServer, tmp_path: Path
) -> None:
    """--timeout passing first is exit 3 with a message, not a traceback."""
    server.set_job_completion(after_reads=None)
    kb = server.create_knowledge_base()
    path = tmp_path / "quick.csv"
    path.write_bytes(b"Name,Content\nHello,Hi there\n")
    out = io.StringIO()
    async with QConnectClient(endpoint_url=server.endpoint_url) as client:
        assert await example.run(client, kb, str(path), wait_seconds=0.05, out=out) == 3
    assert "still running" in out.getvalue()


def test_bad_arguments_exit_2(server: QConnectServer, tmp_path: Path) -> None:
    """A missing file is refused before any request: exit 2."""
    kb = server.create_knowledge_base()
    assert example.main([kb, str(tmp_path / "missing.csv")]) == 2
    assert server.stats.requests.get("StartContentUpload", 0) == 0

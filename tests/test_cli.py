"""The qconnect-async command: formats, filters, exit statuses, progress, Ctrl-C and the demo.

Most tests run ``main(argv)`` in-process (fast); the terminal, signal and demo cases run the
command in a subprocess. The expected jobs come from boto3, an independent reader of the same
server's answers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

import qconnect_async.testing
from qconnect_async._output import CSV_COLUMNS
from qconnect_async.cli import main
from qconnect_async.testing import QConnectServer

TIMES = ("createdTime", "lastModifiedTime")
_HEADERS = ("IMPORT JOB ID", "STATUS", "TYPE", "CREATED (UTC)", "LAST MODIFIED (UTC)")
MISSING_KB = "00000000-0000-0000-0000-000000000000"


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
def kbs(server: QConnectServer) -> list[str]:
    """Two knowledge bases of 130 and 25 varied jobs (statuses, metadata, external sources)."""
    ids = [server.create_knowledge_base("first"), server.create_knowledge_base("second")]
    server.add_import_jobs(ids[0], 130)
    server.add_import_jobs(ids[1], 25)
    return ids


def expected(boto: Any, kb_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every job of the KBs as boto3 reads them, timestamps in UTC, by import job ID."""
    jobs = {}
    for kb in kb_ids:
        for page in boto.get_paginator("list_import_jobs").paginate(knowledgeBaseId=kb):
            for job in page["importJobSummaries"]:
                jobs[job["importJobId"]] = {
                    k: v.astimezone(UTC) if k in TIMES else v for k, v in job.items()
                }
    return jobs


def parsed(job: dict[str, Any]) -> dict[str, Any]:
    """A job the CLI printed, with its ISO timestamps parsed."""
    for key in TIMES:
        assert job[key].endswith("Z")
        job[key] = datetime.fromisoformat(job[key])
    return job


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["list-import-jobs", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_one_array_in_the_wire_shape(
    capsys: pytest.CaptureFixture[str], kbs: list[str], boto: Any
) -> None:
    """--output json prints one array of every job: camelCase keys, ISO timestamps."""
    code, out, err = run(capsys, *kbs, "--output", "json", "--page-size", "50")
    assert (code, err) == (0, "")
    jobs = [parsed(job) for job in json.loads(out)]
    assert len(jobs) == 155
    assert {job["importJobId"]: job for job in jobs} == expected(boto, kbs)


def test_ndjson_is_one_job_a_line(
    capsys: pytest.CaptureFixture[str], kbs: list[str], boto: Any
) -> None:
    """--output ndjson prints one JSON object a line, every job once."""
    code, out, _ = run(capsys, *kbs, "-o", "ndjson")
    assert code == 0
    jobs = [parsed(json.loads(line)) for line in out.splitlines()]
    assert len(jobs) == 155
    assert {job["importJobId"]: job for job in jobs} == expected(boto, kbs)


def test_csv_has_a_header_and_a_flat_row_per_job(
    capsys: pytest.CaptureFixture[str], kbs: list[str], boto: Any
) -> None:
    """--output csv: the documented columns; nested values as JSON, absent ones empty."""
    code, out, _ = run(capsys, *kbs, "-o", "csv")
    assert code == 0
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = {row["importJobId"]: row for row in reader}
    want = expected(boto, kbs)
    assert rows.keys() == want.keys()
    for job_id, job in want.items():
        row = rows[job_id]
        for column in CSV_COLUMNS:
            if column in TIMES:
                assert datetime.fromisoformat(row[column]) == job[column]
            elif column in ("metadata", "externalSourceConfiguration"):
                assert (json.loads(row[column]) if row[column] else None) == job.get(column)
            else:
                assert row[column] == job[column]


def test_table_is_aligned_columns_per_knowledge_base(
    capsys: pytest.CaptureFixture[str], kbs: list[str], boto: Any
) -> None:
    """The default output: a section per KB, a header, a row per job, and a total."""
    code, out, _ = run(capsys, *kbs)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Knowledge base {kbs[0]}: 130 import jobs"
    header = lines[1]
    assert (
        header
        == "  "
        + "  ".join(
            h.ljust(w) for h, w in zip(_HEADERS, (36, 18, 15, 19, 19), strict=True)
        ).rstrip()
    )
    row = lines[2]
    assert row.index("QUICK_RESPONSES") == header.index("TYPE")
    assert f"Knowledge base {kbs[1]}: 25 import jobs" in lines
    assert lines[-1] == "155 import jobs in 2 knowledge base(s)"
    for job_id in expected(boto, kbs):
        assert sum(line.split()[0] == job_id for line in lines if line.strip()) == 1


def test_status_filter_keeps_the_statuses_asked_for(
    capsys: pytest.CaptureFixture[str], kbs: list[str], boto: Any
) -> None:
    """--status is repeatable and case-insensitive; other jobs are left out."""
    code, out, _ = run(capsys, *kbs, "-o", "ndjson", "--status", "failed", "--status", "COMPLETE")
    assert code == 0
    got = {job["importJobId"] for job in map(json.loads, out.splitlines())}
    want = {i for i, j in expected(boto, kbs).items() if j["status"] in ("FAILED", "COMPLETE")}
    assert got == want
    assert 0 < len(got) < 155


def test_all_lists_every_knowledge_base_of_the_account(
    capsys: pytest.CaptureFixture[str], kbs: list[str], server: QConnectServer, boto: Any
) -> None:
    """--all lists the account's KBs first, then every job of each; names label the table."""
    third = server.create_knowledge_base("third")
    server.add_import_jobs(third, 3)
    code, out, _ = run(capsys, "--all", "-o", "json")
    assert code == 0
    assert {job["importJobId"] for job in json.loads(out)} == expected(boto, [*kbs, third]).keys()
    code, out, _ = run(capsys, "--all")
    assert f"Knowledge base third ({third}): 3 import jobs" in out.splitlines()


def test_arn_endpoint_option_and_duplicates(
    capsys: pytest.CaptureFixture[str],
    qconnect_server: QConnectServer,
    boto: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--endpoint-url and --region win over the environment; an ARN is its KB; a KB given
    twice is listed once; KBs may come before and after options."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the server's data is in us-east-1
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", "http://127.0.0.1:9")  # nothing there
    kb = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb, 7)
    arn = qconnect_server.knowledge_base_arn(kb)
    url = qconnect_server.endpoint_url
    argv = [arn, "-o", "ndjson", "--endpoint-url", url, kb, "--region", "us-east-1"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert sorted(json.loads(line)["importJobId"] for line in out.splitlines()) == sorted(
        expected(boto, [kb])
    )


def test_no_knowledge_base_prints_an_empty_result(
    capsys: pytest.CaptureFixture[str], server: QConnectServer
) -> None:
    """--all on an account without KBs: an empty array, or a table that says so."""
    assert run(capsys, "--all", "-o", "json") == (0, "[]\n", "")
    code, out, _ = run(capsys, "--all")
    assert (code, out) == (0, "0 import jobs in 0 knowledge base(s)\n")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "give knowledge base IDs or ARNs, or --all"),
        (["not-a-kb"], "not a knowledge base ID"),
        (["ABCDEF00-0000-0000-0000-000000000000"], "not a knowledge base ID"),
        ([MISSING_KB, "--page-size", "0"], "--page-size: must be between 1 and 100, not 0"),
        ([MISSING_KB, "--page-size", "many"], "not a whole number"),
        ([MISSING_KB, "--max-concurrency", "0"], "--max-concurrency: must be at least 1"),
        (["--all", MISSING_KB], "give knowledge base IDs or --all, not both"),
        ([MISSING_KB, "--status", "DONE"], "unknown status 'DONE'"),
        ([MISSING_KB, "--output", "xml"], "invalid choice: 'xml'"),
        ([MISSING_KB, "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], server: QConnectServer, argv: list[str], says: str
) -> None:
    """Bad arguments: exit 2, one line on stderr saying what is wrong, no request sent."""
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("qconnect-async")
    assert says in err
    assert server.stats.total_requests == 0


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command: exit 2 and one line; --help still works (exit 0)."""
    assert main([]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["list-import-jobs", "--help"]) == 0
    assert "--status" in capsys.readouterr().out


def test_no_region_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without any region configured: exit 2, pointing at --region."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, _, err = run(capsys, MISSING_KB)
    assert code == 2
    assert "--region" in err and err.count("\n") == 1


def test_service_error_exits_1_with_code_message_and_request_id(
    capsys: pytest.CaptureFixture[str], kbs: list[str], server: QConnectServer
) -> None:
    """AccessDenied: exit 1, one line with the code, message, KB and request id; no traceback."""
    denied = {"code": "AccessDeniedException", "status": 403, "message": "no way"}
    server.fail(**denied, times=None, knowledge_base_id=kbs[1])
    code, _, err = run(capsys, *kbs, "-o", "ndjson")
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("qconnect-async: error: AccessDeniedException: no way")
    assert f"knowledge base {kbs[1]}" in err and "request id " in err
    assert "Traceback" not in err


def test_missing_knowledge_base_exits_1(
    capsys: pytest.CaptureFixture[str], server: QConnectServer
) -> None:
    """A KB that does not exist is the service's ResourceNotFoundException: exit 1."""
    code, out, err = run(capsys, MISSING_KB, "-o", "json")
    assert (code, out) == (1, "")
    assert "ResourceNotFoundException" in err and "Traceback" not in err


def test_debug_adds_the_traceback(
    capsys: pytest.CaptureFixture[str], kbs: list[str], server: QConnectServer
) -> None:
    """--debug prints the traceback (and the library's log) before the error line."""
    server.fail(code="AccessDeniedException", status=403, times=None)
    code, _, err = run(capsys, kbs[0], "--debug")
    assert code == 1
    assert "Traceback" in err and "AccessDeniedError" in err
    assert err.splitlines()[-1].startswith("qconnect-async: error: AccessDeniedException")


def test_no_progress_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], kbs: list[str]
) -> None:
    """Captured stderr is not a TTY: nothing is drawn on it."""
    code, _, err = run(capsys, *kbs, "--page-size", "10")
    assert (code, err) == (0, "")


def test_demo_needs_the_testing_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without moto, --demo exits 1 and says which extra to install."""
    monkeypatch.delattr(qconnect_async.testing, "QConnectServer", raising=False)
    monkeypatch.delitem(sys.modules, "qconnect_async.testing._server")
    for name in [n for n in sys.modules if n == "moto" or n.startswith("moto.")]:
        monkeypatch.setitem(sys.modules, name, None)  # an import of it fails
    code, out, err = run(capsys, "--demo")
    assert (code, out) == (1, "")
    assert "pip install 'qconnect-async[testing]'" in err


# -- in a subprocess: the terminal, signals, the demo -----------------------------------------


def command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "qconnect_async", "list-import-jobs", *argv]


def read_until_closed(fd: int, timeout: float = 30) -> bytes:
    """What a pty's master side receives until the child side is closed (or time is up)."""
    chunks = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def started(argv: list[str], **options: Any) -> Iterator[subprocess.Popen[Any]]:
    """A child process that is killed if the test fails before it ends."""
    proc = subprocess.Popen(argv, **options)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_progress_is_drawn_on_a_terminal_and_cleared(kbs: list[str]) -> None:
    """With stderr on a TTY: a redrawn line of KBs done and jobs, erased at the end."""
    master, slave = pty.openpty()
    with tempfile.TemporaryFile() as stdout:
        try:
            argv = command(*kbs, "-o", "ndjson", "--page-size", "10")
            with started(argv, stdout=stdout, stderr=slave) as proc:
                os.close(slave)
                drawn = read_until_closed(master).decode()
                assert proc.wait(timeout=30) == 0
        finally:
            os.close(master)
        stdout.seek(0)
        assert len(stdout.read().splitlines()) == 155  # stdout (a file) holds only the jobs
    assert "listing: 0/2 knowledge bases done, 0 import jobs" in drawn
    assert "listing: 2/2 knowledge bases done, 155 import jobs" in drawn
    assert drawn.endswith("\r\x1b[K")  # the line is erased before the command ends


def test_ctrl_c_stops_cleanly_with_130(kbs: list[str], server: QConnectServer) -> None:
    """SIGINT mid-request: exit 130, no traceback, no unclosed session warning."""
    server.set_latency(2.0)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with started(command(*kbs), **pipes) as proc:
        deadline = time.monotonic() + 10
        while server.stats.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.stats.in_flight > 0
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert out == ""
    assert "Traceback" not in err and "Unclosed" not in err and "Error" not in err


@pytest.fixture
def no_aws(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment without any AWS variable, and a HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    yield env


def test_demo_lists_demo_jobs_without_any_aws_setup(no_aws: dict[str, str]) -> None:
    """--demo serves and lists 3 demo KBs, with no AWS credentials, region or config at all."""
    done = subprocess.run(command("--demo"), env=no_aws, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    sections = [line for line in lines if line.startswith("Knowledge base ")]
    assert [s.split()[2] for s in sections] == ["support-faq", "billing-answers", "onboarding"]
    assert lines[-1] == "12 import jobs in 3 knowledge base(s)"
    statuses = {line.split()[1] for line in lines if line.startswith("  ") and "-" in line}
    assert {"COMPLETE", "FAILED", "START_IN_PROGRESS", "DELETED"} <= statuses
    assert "Demo: a fake Amazon Q in Connect at http://127.0.0.1:" in done.stderr

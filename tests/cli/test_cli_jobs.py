"""start-, get-, wait- and delete-import-job."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from _cli_helpers import COMMAND, MISSING_KB, cli, on_a_terminal, read_until_closed, started

from qconnect_async.testing import QConnectServer


def test_start_wait_get_delete_a_job(
    empty_kb: str, server: QConnectServer, boto: Any, tmp_path: Path
) -> None:
    """start-import-job --wait uploads the file, prints {"importJob": ...} once COMPLETE
    (presigned URL included, never in stderr or --debug logs), says on stderr that it retries
    a long wait; get-import-job prints what boto3 reads; delete-import-job prints nothing."""
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"Name,Content\nhello,Hello! How can I help?\n")
    server.throttle("StartImportJob", retry_after=1.2)
    argv = ["start-import-job", empty_kb, str(answers), "--wait", "--metadata", "team=support"]
    done = cli(*argv, "--client-token", "token-1", "--debug")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["importJob"]
    assert job["status"] == "COMPLETE" and job["metadata"]["team"] == "support"
    assert set(job["metadata"]) == {"team", "qconnect-async:start"}  # the token's entry
    assert server.uploaded(job["uploadId"]) == answers.read_bytes()
    assert job["url"].startswith("http") and job["url"] not in done.stderr
    notices = [line for line in done.stderr.splitlines() if line.startswith("retrying ")]
    assert notices == ["retrying StartImportJob in 1.2s (ThrottlingException)"]

    done = cli("get-import-job", "--knowledge-base-id", empty_kb, job["importJobId"])
    got = json.loads(done.stdout)["importJob"]
    want = boto.get_import_job(knowledgeBaseId=empty_kb, importJobId=job["importJobId"])
    assert got["url"] == want["importJob"]["url"]
    assert got["createdTime"] == want["importJob"]["createdTime"].astimezone(UTC).isoformat()

    done = cli("delete-import-job", empty_kb, "--import-job-id", job["importJobId"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    listed = boto.list_import_jobs(knowledgeBaseId=empty_kb)["importJobSummaries"]
    deleting = [j["status"] for j in listed if j["importJobId"] == job["importJobId"]]
    assert deleting in (["DELETE_IN_PROGRESS"], ["DELETED"])


def test_a_start_run_twice_with_a_token_prints_one_job_and_resumes_an_upload(
    empty_kb: str, server: QConnectServer, tmp_path: Path
) -> None:
    """--client-token twice: the same job; a start refused after its PUT says its upload,
    and --upload-id starts from it without a second PUT."""
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"Name,Content\nhello,Hello!\n")
    argv = ["start-import-job", empty_kb, str(answers), "--client-token", "order-42"]
    first, again = (json.loads(cli(*argv).stdout)["importJob"] for _ in range(2))
    assert first["importJobId"] == again["importJobId"]
    server.set_job_quota(0)
    refused = cli("start-import-job", empty_kb, str(answers), "--presigned-url-ttl", "5")
    assert refused.returncode == 254
    upload_id = refused.stderr.rsplit("--upload-id ", 1)[1].strip()
    server.set_job_quota(None)
    puts = server.stats.requests["PutObject"]
    done = cli("start-import-job", "--knowledge-base-id", empty_kb, "--upload-id", upload_id)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["importJob"]["uploadId"] == upload_id
    assert server.stats.requests["PutObject"] == puts


def test_get_import_job_prints_every_output_format(
    empty_kb: str, server: QConnectServer, tmp_path: Path
) -> None:
    """get-import-job --output text|table|ndjson|csv, and --query: the one job in each."""
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"Name,Content\nhello,Hello!\n")
    job = json.loads(cli("start-import-job", empty_kb, str(answers), "--wait").stdout)["importJob"]
    job_id = job["importJobId"]
    shown = {
        output: cli("get-import-job", empty_kb, job_id, "--output", output).stdout
        for output in ("text", "table", "ndjson", "csv")
    }
    text = [line.split("\t") for line in shown["text"].splitlines()]
    assert text[0][0] == "IMPORTJOB" and job_id in text[0] and "COMPLETE" in text[0]
    table = [line.split() for line in shown["table"].splitlines()]
    assert table[0] == ["FIELD", "VALUE"] and ["status", "COMPLETE"] in table
    assert json.loads(shown["ndjson"]) == job
    rows = shown["csv"].splitlines()
    assert len(rows) == 2 and "importJobId" in rows[0] and job_id in rows[1]
    query = ["--query", "importJob.status", "--output", "text"]
    done = cli("get-import-job", empty_kb, job_id, *query)
    assert done.stdout == "COMPLETE\n"


def test_a_failed_import_prints_the_job_and_how_to_get_its_report(
    empty_kb: str, tmp_path: Path
) -> None:
    """A job that ends FAILED under --wait: the job on stdout (its failedRecordReport URL),
    on stderr how to get the report (never the URL itself), exit 254."""
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"Name,Content\nhello,\n")
    done = cli("start-import-job", empty_kb, str(bad), "--wait")
    assert done.returncode == 254
    job = json.loads(done.stdout)["importJob"]
    assert job["status"] == "FAILED" and job["failedRecordReport"].startswith("http")
    assert f"Import job {job['importJobId']} ended FAILED." in done.stderr
    assert "--query importJob.failedRecordReport" in done.stderr
    assert "http" not in done.stderr


def test_start_import_job_draws_its_steps_on_a_terminal(empty_kb: str, tmp_path: Path) -> None:
    """start-import-job --wait with stderr on a TTY: the upload (file and size), then the job
    started, redrawn on one line that is erased before the job is printed on stdout."""
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"Name,Content\nhello,Hello! How can I help?\n")
    drawn, out = on_a_terminal("start-import-job", empty_kb, str(answers), "--wait")
    job = json.loads(out)["importJob"]
    size = answers.stat().st_size
    assert f"uploading answers.csv ({size} bytes)..." in drawn
    assert f"started import job {job['importJobId']}" in drawn
    assert drawn.index("uploading") < drawn.index("started import job")
    assert drawn.endswith("\r\x1b[K")  # erased before the command ends
    assert job["status"] == "COMPLETE"


def test_a_wait_past_its_timeout_exits_255_and_ctrl_c_130(kb: str, server: QConnectServer) -> None:
    """wait-import-job on a job that never ends: on a terminal the waiting line shows the
    status and the time, then --timeout is exit 255 saying so; Ctrl-C is 130, no traceback."""
    job_id = server.add_import_jobs(kb, 1, status="START_IN_PROGRESS")[0]
    master, slave = pty.openpty()
    try:
        argv = [*COMMAND, "wait-import-job", kb, job_id, "--timeout", "1.5"]
        with started(argv, stdout=subprocess.DEVNULL, stderr=slave) as proc:
            os.close(slave)
            drawn = read_until_closed(master).decode()
            assert proc.wait(timeout=30) == 255
    finally:
        os.close(master)
    assert f"waiting for import job {job_id}: 0s" in drawn
    assert f"Timed out: import job {job_id} did not end within 1.5s (--timeout)" in drawn
    server.reset_stats()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with started([*COMMAND, "wait-import-job", kb, job_id], **pipes) as proc:
        deadline = time.monotonic() + 30
        while server.stats.requests.get("GetImportJob", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert (proc.returncode, out, err) == (130, "", "")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["get-import-job", MISSING_KB], "required: --import-job-id"),
        (["get-import-job", MISSING_KB, "not-a-job"], "not an import job ID"),
        (["start-import-job", MISSING_KB, "/nonexistent.csv"], "no such file"),
        (["start-import-job", MISSING_KB, "/dev/null", "--metadata", "x"], "not KEY=VALUE"),
        (["start-import-job", MISSING_KB, "/dev/null", "--upload-id", "u"], "not both"),
        (["start-import-job", "--upload-id", "u"], "required: KB_ID_OR_ARN"),
    ],
)
def test_bad_job_command_lines_exit_252(server: QConnectServer, argv: list[str], says: str) -> None:
    """A bad job command line (a missing or bad ID, no such file, bad metadata): exit 252,
    one line, no request sent."""
    done = cli(*argv)
    assert (done.returncode, done.stdout) == (252, "")
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert server.stats.total_requests == 0

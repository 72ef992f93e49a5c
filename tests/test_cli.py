"""The qconnect-async command on the AWS CLI's conventions: output shapes, pagination and
resume tokens, --query, output settings, exit statuses and error wording, streaming, Ctrl-C,
--debug and the demo.

Every test runs the installed command in a subprocess (the venv's ``qconnect-async`` entry
point, or ``python -m qconnect_async``) against a QConnectServer. The expected jobs come from
boto3, an independent reader of the same server's answers.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import boto3
import pytest

from qconnect_async.testing import QConnectServer

TIMES = ("createdTime", "lastModifiedTime")
MISSING_KB = "00000000-0000-0000-0000-000000000000"
_SCRIPT = Path(sys.executable).with_name("qconnect-async")
#: The installed entry point when there is one (it is in a venv), else the module.
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "qconnect_async"]


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


def expected(boto: Any, kb_ids: list[str]) -> list[dict[str, Any]]:
    """Every job of the KBs as boto3 reads them, timestamps as the AWS CLI prints them."""
    jobs = []
    for kb_id in kb_ids:
        for page in boto.get_paginator("list_import_jobs").paginate(knowledgeBaseId=kb_id):
            for job in page["importJobSummaries"]:
                for key in TIMES:
                    job[key] = job[key].astimezone(UTC).isoformat()
                jobs.append(job)
    return jobs


def cli(*argv: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run the command to its end; stdout and stderr captured."""
    return subprocess.run(
        [*COMMAND, *argv], capture_output=True, text=True, timeout=60, check=False, **options
    )


def ids(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["importJobId"] for job in jobs]


# -- output shapes -----------------------------------------------------------------------------


def test_json_is_the_aws_cli_document(kb: str, boto: Any) -> None:
    """--output json prints {"importJobSummaries": [...]} indented by 4, as `aws` does."""
    done = cli("list-import-jobs", "--knowledge-base-id", kb, "--output", "json")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {"importJobSummaries": expected(boto, [kb])}
    assert done.stdout == json.dumps(json.loads(done.stdout), indent=4) + "\n"


def test_json_is_the_default_and_settings_choose_the_output(
    kb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --output: AWS_DEFAULT_OUTPUT, else the profile's output, else json; --output wins."""
    config = tmp_path / "config"
    # A named profile takes its credentials from the files, not the environment (botocore).
    keys = "aws_access_key_id = x\naws_secret_access_key = x\n"
    config.write_text(f"[default]\noutput = ndjson\n[profile other]\noutput = text\n{keys}")
    base = ["list-import-jobs", kb, "--max-items", "2"]
    assert json.loads(cli(*base).stdout)["importJobSummaries"]  # the empty config: json
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert len(cli(*base).stdout.splitlines()) == 3  # ndjson: 2 jobs and the NextToken line
    assert cli(*base, "--profile", "other").stdout.startswith("IMPORTJOBSUMMARIES\t")
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "csv")
    assert cli(*base, "--profile", "other").stdout.startswith("importJobId,")
    assert cli(*base, "--output", "json").stdout.startswith("{")


def test_text_is_the_aws_cli_text_format(kb: str, boto: Any) -> None:
    """--output text: a tab-separated row per job, named and sorted by key as `aws` does."""
    done = cli("list-import-jobs", kb, "--output", "text")
    assert done.returncode == 0
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    jobs = [row for row in rows if row[0] == "IMPORTJOBSUMMARIES"]
    want = expected(boto, [kb])
    assert len(jobs) == len(want)
    for row, job in zip(jobs, want, strict=True):
        scalars = sorted((k, v) for k, v in job.items() if not isinstance(v, dict | list))
        assert row[1:] == [str(v) for _, v in scalars]
    assert {row[0] for row in rows} <= {
        "IMPORTJOBSUMMARIES",
        "METADATA",
        "EXTERNALSOURCECONFIGURATION",
        "CONNECTCONFIGURATION",
    }


def test_text_prints_tokens_and_nulls_as_aws_does(kb: str, boto: Any) -> None:
    """text, as aws prints it: a cut listing ends with a NEXTTOKEN row that resumes it;
    --no-paginate prints the one answer whole, its nextToken first; a null is None."""
    want = ids(expected(boto, [kb]))
    done = cli("list-import-jobs", kb, "--output", "text", "--max-items", "3")
    *jobs, last = [line.split("\t") for line in done.stdout.splitlines()]
    assert sum(row[0] == "IMPORTJOBSUMMARIES" for row in jobs) == 3
    assert last[0] == "NEXTTOKEN" and len(last) == 2
    done = cli("list-import-jobs", kb, "--starting-token", last[1])
    assert ids(json.loads(done.stdout)["importJobSummaries"]) == want[3:]
    done = cli("list-import-jobs", kb, "--output", "text", "--no-paginate", "--page-size", "10")
    lines = done.stdout.splitlines()
    assert "\t" not in lines[0]  # the service's own token, alone
    assert sum(line.startswith("IMPORTJOBSUMMARIES\t") for line in lines) == 10
    done = cli("list-import-jobs", kb, "--starting-token", lines[0])
    assert ids(json.loads(done.stdout)["importJobSummaries"]) == want[10:]
    done = cli("list-import-jobs", kb, "--output", "text", "--query", "importJobSummaries[0].x")
    assert (done.returncode, done.stdout) == (0, "None\n")


def test_query_is_applied_to_the_document(kb: str, boto: Any) -> None:
    """--query takes JMESPath over the json document; text prints the result tab-separated."""
    query = "importJobSummaries[?status=='FAILED'].importJobId"
    done = cli("list-import-jobs", kb, "--query", query, "--output", "text")
    assert done.returncode == 0
    failed = [job["importJobId"] for job in expected(boto, [kb]) if job["status"] == "FAILED"]
    assert failed and done.stdout == "\t".join(failed) + "\n"
    done = cli("list-import-jobs", kb, "--query", "length(importJobSummaries)")
    assert done.stdout == "25\n"


def test_ndjson_and_csv_print_every_job(kb: str, boto: Any) -> None:
    """ndjson: one job a line; csv: a header and a row per job, in listing order."""
    want = ids(expected(boto, [kb]))
    done = cli("list-import-jobs", kb, "--output", "ndjson", "--page-size", "10")
    assert ids([json.loads(line) for line in done.stdout.splitlines()]) == want
    done = cli("list-import-jobs", kb, "--output", "csv")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("importJobId,knowledgeBaseId,status,")
    assert [line.split(",")[0] for line in lines[1:]] == want
    assert done.stderr == ""


def test_csv_cut_short_gives_its_token_on_stderr(kb: str, boto: Any) -> None:
    """A CSV has no place for NextToken: a cut listing prints it on stderr, and it resumes."""
    want = ids(expected(boto, [kb]))
    done = cli("list-import-jobs", kb, "--output", "csv", "--max-items", "4")
    assert [line.split(",")[0] for line in done.stdout.splitlines()[1:]] == want[:4]
    assert done.stderr.startswith("NextToken: ") and done.stderr.count("\n") == 1
    token = done.stderr.removeprefix("NextToken: ").strip()
    done = cli("list-import-jobs", kb, "--output", "csv", "--starting-token", token)
    assert [line.split(",")[0] for line in done.stdout.splitlines()[1:]] == want[4:]


# -- pagination --------------------------------------------------------------------------------


def test_max_items_prints_a_token_that_resumes(kb: str, boto: Any) -> None:
    """--max-items cuts inside a page and prints NextToken; --starting-token goes on from it,
    with every job printed once."""
    want = ids(expected(boto, [kb]))
    got: list[str] = []
    token = None
    for _ in range(4):
        argv = ["list-import-jobs", kb, "--page-size", "7", "--max-items", "10"]
        done = cli(*argv, *(["--starting-token", token] if token else []))
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        got += ids(document["importJobSummaries"])
        token = document.get("NextToken")
        if token is None:
            break
    assert got == want  # 10 + 10 + 5, nothing twice, nothing left out


def test_tokens_pass_between_botocore_and_the_command(kb: str, boto: Any) -> None:
    """A NextToken from botocore's paginator (as `aws` prints it) resumes here, and ours
    resumes botocore's: the same format."""
    want = ids(expected(boto, [kb]))
    pages = boto.get_paginator("list_import_jobs").paginate(
        knowledgeBaseId=kb, PaginationConfig={"MaxItems": 9, "PageSize": 4}
    )
    first = pages.build_full_result()
    done = cli("list-import-jobs", kb, "--starting-token", first["NextToken"])
    rest = ids(json.loads(done.stdout)["importJobSummaries"])
    assert ids(first["importJobSummaries"]) + rest == want
    done = cli("list-import-jobs", kb, "--page-size", "4", "--max-items", "9")
    token = json.loads(done.stdout)["NextToken"]
    resumed = boto.get_paginator("list_import_jobs").paginate(
        knowledgeBaseId=kb, PaginationConfig={"StartingToken": token, "PageSize": 4}
    )
    assert ids(resumed.build_full_result()["importJobSummaries"]) == want[9:]


def test_no_paginate_makes_one_request(kb: str, server: QConnectServer, boto: Any) -> None:
    """--no-paginate: one request; the service's own nextToken is printed as it sent it."""
    server.reset_stats()
    done = cli("list-import-jobs", kb, "--no-paginate", "--page-size", "10")
    assert server.stats.requests.get("ListImportJobs", 0) == 1
    document = json.loads(done.stdout)
    assert ids(document["importJobSummaries"]) == ids(expected(boto, [kb]))[:10]
    assert set(document) == {"importJobSummaries", "nextToken"}


def test_several_kbs_or_all_are_merged(server: QConnectServer, kb: str, boto: Any) -> None:
    """Several KBs (or --all) are listed at once into one document; the table names each KB."""
    other = server.create_knowledge_base("second")
    server.add_import_jobs(other, 4)
    done = cli("list-import-jobs", kb, "--knowledge-base-id", other, "--page-size", "10", "--debug")
    assert sorted(ids(json.loads(done.stdout)["importJobSummaries"])) == sorted(
        ids(expected(boto, [kb, other]))
    )
    # --debug logs each page request of each KB: 3 pages of `kb`, 1 of `other`.
    for kb_id, pages in ((kb, 3), (other, 1)):
        sent = f"ListImportJobs attempt 1 (knowledge_base_id={kb_id})"
        assert sum(line.endswith(sent) for line in done.stderr.splitlines()) == pages
    done = cli("list-import-jobs", "--all", "--output", "table")
    lines = done.stdout.splitlines()
    assert lines[0].split("  ")[0] == "KNOWLEDGE BASE"
    assert sum(line.startswith("second ") for line in lines) == 4
    assert lines[-1] == "29 import jobs in 2 knowledge bases"


# -- streaming, interruption -------------------------------------------------------------------


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


def test_table_prints_each_page_as_it_comes(kb: str, server: QConnectServer) -> None:
    """The table is written page by page (widths from the first): a later page that fails
    leaves the first page printed, aligned, the token to resume from, and the error on stderr."""
    server.repeat_token(knowledge_base_id=kb)  # the second page loops
    done = cli("list-import-jobs", kb, "--output", "table", "--page-size", "10")
    assert done.returncode == 255
    lines = done.stdout.splitlines()
    assert lines[0].startswith("IMPORT JOB ID") and len(lines) == 1 + 10 + 2
    assert len({line.index("QUICK_RESPONSES") for line in lines[1:11]}) == 1
    assert lines[-2] == "10 import jobs" and lines[-1].startswith("NextToken: ")
    assert "(PaginationLoop) when calling the ListImportJobs operation" in done.stderr


@pytest.mark.parametrize("output", ["table", "json", "text", "ndjson", "csv"])
def test_the_first_page_is_printed_before_the_listing_ends(
    kb: str, server: QConnectServer, output: str
) -> None:
    """Output is written a page at a time: the first line arrives while later pages are
    still to be requested (so `| head` sees it at once)."""
    server.set_latency(0.8, "ListImportJobs")
    argv = [*COMMAND, "list-import-jobs", kb, "--page-size", "10", "--output", output]
    with started(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline()
        # 3 pages: the third is requested only once the second has come.
        assert server.stats.requests.get("ListImportJobs", 0) < 3
        assert proc.poll() is None
        proc.communicate(timeout=30)  # the rest; closes the pipe
    assert proc.returncode == 0


def test_ctrl_c_leaves_valid_json_with_a_token_to_resume(
    server: QConnectServer, kb: str, boto: Any
) -> None:
    """SIGINT mid-listing: exit 130, the json printed so far is a whole document whose
    NextToken resumes the listing; no traceback."""
    server.set_latency(1.0)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with started([*COMMAND, "list-import-jobs", kb, "--page-size", "10"], **pipes) as proc:
        deadline = time.monotonic() + 30
        # The second request is sent only after the first page was printed.
        while server.stats.requests.get("ListImportJobs", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Traceback" not in err and "Unclosed" not in err
    document = json.loads(out)
    want = ids(expected(boto, [kb]))
    assert ids(document["importJobSummaries"]) == want[:10]
    server.set_latency(0)
    done = cli("list-import-jobs", kb, "--starting-token", document["NextToken"])
    assert ids(json.loads(done.stdout)["importJobSummaries"]) == want[10:]


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


def on_a_terminal(*args: str) -> tuple[str, bytes]:
    """Run the command with stderr on a pty (stdout a file): what it drew, what it printed."""
    master, slave = pty.openpty()
    with tempfile.TemporaryFile() as stdout:
        try:
            with started([*COMMAND, *args], stdout=stdout, stderr=slave) as proc:
                os.close(slave)
                drawn = read_until_closed(master).decode()
                assert proc.wait(timeout=30) == 0
        finally:
            os.close(master)
        stdout.seek(0)
        return drawn, stdout.read()


def test_progress_is_drawn_on_a_terminal_and_cleared(kb: str) -> None:
    """With stderr on a TTY: a redrawn line of KBs done and jobs, erased at the end."""
    drawn, out = on_a_terminal("list-import-jobs", kb, "--output", "ndjson")
    assert len(out.splitlines()) == 25  # stdout (a file) holds only the jobs
    assert "listing: 0/1 knowledge bases done, 0 import jobs" in drawn
    assert drawn.endswith("\r\x1b[K")  # the line is erased before the command ends


def test_debug_logs_every_request_and_retry(kb: str, server: QConnectServer) -> None:
    """--debug logs each page's request and each retry (and prints the output as usual)."""
    server.throttle(times=2)
    done = cli("list-import-jobs", kb, "--page-size", "10", "--debug")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert sum(f"ListImportJobs knowledgeBaseId={kb} " in line for line in lines) == 3
    assert sum("failed (ThrottlingException), retrying" in line for line in lines) == 2
    assert all(" - qconnect_async" in line for line in lines)
    assert len(json.loads(done.stdout)["importJobSummaries"]) == 25


# -- exit statuses and errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "the following arguments are required: --knowledge-base-id"),
        (["not-a-kb"], "not a knowledge base ID"),
        ([MISSING_KB, "--page-size", "0"], "--page-size: must be at least 1, not 0"),
        ([MISSING_KB, "--page-size", "101"], "--page-size: must be between 1 and 100, not 101"),
        ([MISSING_KB, "--output", "xml"], "invalid choice: 'xml'"),
        ([MISSING_KB, "--bogus"], "Unknown options: --bogus"),
        ([MISSING_KB, "--query", "[["], "Bad value for --query [["),
        ([MISSING_KB, MISSING_KB[:-1] + "1", "--max-items", "3"], "give exactly one"),
        ([MISSING_KB, "--no-paginate", "--max-items", "3"], "do not go together"),
        ([MISSING_KB, "--cli-read-timeout", "0"], "must be a positive number of seconds"),
        ([f"arn:aws:wisdom:eu-west-1:123456789012:knowledge-base/{MISSING_KB}"], "Region"),
    ],
)
def test_bad_command_lines_exit_252(server: QConnectServer, argv: list[str], says: str) -> None:
    """A bad command line: exit 252, one line saying what is wrong, no request sent."""
    done = cli("list-import-jobs", *argv)
    assert (done.returncode, done.stdout) == (252, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("qconnect-async: error: ")
    assert says in done.stderr
    assert server.stats.total_requests == 0


@pytest.mark.parametrize(
    ("unset", "env", "argv", "says"),
    [
        ("AWS_DEFAULT_REGION", {}, [], "You must specify a region."),
        ("AWS_ACCESS_KEY_ID", {}, [], "Unable to locate credentials."),
        (None, {}, ["--profile", "nope"], "The config profile (nope) could not be found"),
        (None, {"AWS_DEFAULT_OUTPUT": "xml"}, [], "AWS_DEFAULT_OUTPUT is 'xml'"),
    ],
)
def test_configuration_errors_exit_253(
    server: QConnectServer, unset: str | None, env: dict[str, str], argv: list[str], says: str
) -> None:
    """No region, no credentials, an unknown profile, a bad output setting: exit 253."""
    environ = {k: v for k, v in os.environ.items() if k != unset} | env
    done = cli("list-import-jobs", MISSING_KB, *argv, env=environ)
    assert (done.returncode, done.stdout) == (253, "")
    assert says in done.stderr and "Traceback" not in done.stderr


def test_service_errors_exit_254_worded_as_aws(server: QConnectServer, kb: str) -> None:
    """An error the service sent: exit 254, "An error occurred (Code) when calling the
    ListImportJobs operation: message", nothing on stdout."""
    server.fail(code="AccessDeniedException", status=403, message="no way", times=None)
    done = cli("list-import-jobs", kb)
    assert (done.returncode, done.stdout) == (254, "")
    assert done.stderr == (
        "\nAn error occurred (AccessDeniedException) when calling the ListImportJobs "
        "operation: no way\n"
    )


def test_other_failures_exit_255(
    kb: str, server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No service at the endpoint, or a 200 that is not an answer: exit 255, one message.
    AWS_MAX_ATTEMPTS=1 (as the AWS CLI reads it) makes one attempt, not ten."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    done = cli("list-import-jobs", kb, "--endpoint-url", "http://127.0.0.1:9", "--debug")
    assert "retrying" not in done.stderr
    done = cli("list-import-jobs", kb, "--endpoint-url", "http://127.0.0.1:9")
    assert done.returncode == 255
    assert done.stderr.startswith("Could not connect to the endpoint URL: ")
    server.malformed(kind="invalid_json", times=None)
    done = cli("list-import-jobs", kb)
    assert done.returncode == 255
    assert "(MalformedResponse) when calling the ListImportJobs operation" in done.stderr


def test_aws_timeout_options_and_no_cli_pager_are_taken(
    kb: str, server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--cli-read-timeout bounds each attempt, as in aws (a slower answer: exit 255);
    --no-cli-pager is taken and changes nothing (this command never pages)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    done = cli("list-import-jobs", kb, "--no-cli-pager", "--max-items", "1")
    assert done.returncode == 0 and len(json.loads(done.stdout)["importJobSummaries"]) == 1
    server.set_latency(2.0, "ListImportJobs")
    # The default read timeout (20 s) would wait the 2 s out and list.
    done = cli("list-import-jobs", kb, "--cli-read-timeout", "0.3", "--cli-connect-timeout", "1")
    assert (done.returncode, done.stdout) == (255, "")
    assert done.stderr.startswith("Read timeout on endpoint URL: ")


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


def test_an_html_page_is_named_not_printed(html_endpoint: str) -> None:
    """A non-AWS endpoint's HTML page: one short line naming it, never the page itself."""
    done = cli("list-import-jobs", MISSING_KB, "--endpoint-url", html_endpoint)
    assert done.returncode == 254
    assert len(done.stderr) < 400 and "<p>" not in done.stderr
    assert 'HTTP 404 with an HTML page ("Not Found")' in done.stderr


# -- the command as a whole --------------------------------------------------------------------


def test_help_and_version_and_no_command() -> None:
    """--help lists the commands and exits 0; no command is a usage error (252)."""
    done = cli("--help")
    assert done.returncode == 0 and "list-import-jobs" in done.stdout
    done = cli("list-import-jobs", "--help")
    assert "--starting-token" in done.stdout and "--query" in done.stdout
    done = cli()
    assert done.returncode == 252 and done.stderr.count("\n") == 1


@pytest.fixture
def no_aws(tmp_path: Path) -> dict[str, str]:
    """An environment without any AWS variable, and a HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    return env


def test_demo_lists_demo_jobs_without_any_aws_setup(no_aws: dict[str, str]) -> None:
    """--demo serves and lists 3 demo KBs (a table by default), with no AWS setup at all."""
    done = cli("list-import-jobs", "--demo", env=no_aws)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["KNOWLEDGE", "BASE"]
    assert {line.split()[0] for line in lines[1:-1]} == {
        "support-faq",
        "billing-answers",
        "onboarding",
    }
    assert lines[-1] == "12 import jobs in 3 knowledge bases"
    assert "Demo: a fake Amazon Q in Connect at http://127.0.0.1:" in done.stderr


def test_demo_without_the_testing_extra_says_what_to_install(no_aws: dict[str, str]) -> None:
    """Without moto, --demo exits 253 and names the extra to install."""
    code = (
        "import sys; sys.modules['moto'] = None; from qconnect_async.cli import main; "
        "sys.exit(main(['list-import-jobs', '--demo']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=no_aws, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (253, "")
    assert "pip install 'qconnect-async[testing]'" in done.stderr


def test_a_token_is_botocores_format() -> None:
    """Resume tokens are base64 JSON as botocore's paginator writes them."""
    from qconnect_async._cli_list import decode_token, encode_token

    token = encode_token("abc", 3)
    assert json.loads(base64.b64decode(token)) == {"nextToken": "abc", "boto_truncate_amount": 3}
    assert decode_token(token) == ("abc", 3)
    assert decode_token("a-raw-service-token") == ("a-raw-service-token", 0)


# -- managing import jobs ----------------------------------------------------------------------


@pytest.fixture
def empty_kb(server: QConnectServer) -> str:
    """A knowledge base with no jobs, whose started jobs complete at their first read."""
    server.set_job_completion(after_reads=0)
    return server.create_knowledge_base("imports")


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
    assert (job["status"], job["metadata"]) == ("COMPLETE", {"team": "support"})
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
    ],
)
def test_bad_job_command_lines_exit_252(server: QConnectServer, argv: list[str], says: str) -> None:
    """A bad job command line (a missing or bad ID, no such file, bad metadata): exit 252,
    one line, no request sent."""
    done = cli(*argv)
    assert (done.returncode, done.stdout) == (252, "")
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert server.stats.total_requests == 0

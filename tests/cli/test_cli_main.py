"""The command as a whole: exit statuses and error wording, AWS settings, --help, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from _cli_helpers import MISSING_KB, cli

from qconnect_async._checks import MAX_PAGE_SIZE
from qconnect_async.testing import QConnectServer


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


def test_an_html_page_is_named_not_printed(html_endpoint: str) -> None:
    """A non-AWS endpoint's HTML page: one short line naming it, never the page itself."""
    done = cli("list-import-jobs", MISSING_KB, "--endpoint-url", html_endpoint)
    assert done.returncode == 254
    assert len(done.stderr) < 400 and "<p>" not in done.stderr
    assert 'HTTP 404 with an HTML page ("Not Found")' in done.stderr


def test_help_and_version_and_no_command() -> None:
    """--help lists the commands and exits 0; --version prints the distribution's version;
    no command is a usage error (252)."""
    done = cli("--help")
    assert done.returncode == 0 and "list-import-jobs" in done.stdout
    assert "list-knowledge-bases" in done.stdout
    done = cli("--version")
    assert (done.returncode, done.stdout) == (0, f"qconnect-async {version('qconnect-async')}\n")
    done = cli("list-import-jobs", "--help")
    assert "--starting-token" in done.stdout and "--query" in done.stdout
    done = cli()
    assert done.returncode == 252 and done.stderr.count("\n") == 1


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


@pytest.mark.parametrize("argv", [["--help"], ["list-import-jobs", "--help"]])
def test_help_imports_neither_moto_nor_the_fake_service(argv: list[str]) -> None:
    """--help imports neither moto (nor werkzeug, flask), nor the fake service, nor the client
    and its models (aiobotocore, botocore, pydantic): only running a command needs them
    (python -X importtime lists every module imported)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qconnect_async", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "qconnect_async.cli._main" in imported and "usage:" in done.stdout
    heavy = ("moto", "werkzeug", "flask", "aiobotocore", "botocore", "pydantic")
    assert {name for name in imported if name.split(".")[0] in heavy} == set()
    assert {"qconnect_async.testing", "qconnect_async.models"}.isdisjoint(imported)


def test_page_size_default_is_the_librarys(server: QConnectServer) -> None:
    """--help states the largest page the library asks for by default, and a listing without
    --page-size asks for pages of that size."""
    for command in ("list-import-jobs", "list-knowledge-bases"):
        assert f"1-{MAX_PAGE_SIZE} (default {MAX_PAGE_SIZE})" in cli(command, "--help").stdout
    kb = server.create_knowledge_base("big")
    server.add_import_jobs(kb, MAX_PAGE_SIZE + 1)
    server.reset_stats()
    done = cli("list-import-jobs", kb, "--query", "length(importJobSummaries)")
    assert done.stdout == f"{MAX_PAGE_SIZE + 1}\n"
    assert server.stats.requests["ListImportJobs"] == 2


_NAME_MODULES = (
    "import sys; from qconnect_async.cli import main; status = main(sys.argv[1:]); "
    "print(*sorted(sys.modules), file=sys.stderr); sys.exit(status)"
)


def test_a_one_page_json_listing_imports_no_telemetry_and_no_fake_service(kb: str) -> None:
    """A one-page listing printed as JSON imports neither opentelemetry (installed here, but
    not set up by anyone) nor the fake service and moto: its start pays for neither."""
    argv = ["list-import-jobs", "--knowledge-base-id", kb, "--output", "json"]
    done = subprocess.run(
        [sys.executable, "-c", _NAME_MODULES, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["importJobSummaries"]) == 25
    imported = set(done.stderr.split())
    assert "qconnect_async.models" in imported
    unwanted = ("opentelemetry", "moto", "werkzeug", "flask")
    assert {name for name in imported if name.split(".")[0] in unwanted} == set()
    assert "qconnect_async.testing" not in imported


_WATCH_GC = """
import atexit, gc, json, sys
early, started = [], []
def watch(phase, info):
    if phase == "start" and started and not gc.get_freeze_count():
        early.append(info["generation"])
gc.callbacks.append(watch)
def report():
    state = {"early": len(early), "frozen": gc.get_freeze_count() > 0, "on": gc.isenabled()}
    print(json.dumps(state), file=sys.stderr)
atexit.register(report)
sys.argv[0] = "qconnect-async"
from qconnect_async.cli import main, run
started.append(True)
if sys.argv[1] == "main":
    sys.exit(main(sys.argv[2:]))
del sys.argv[1]
run()
"""


@pytest.mark.parametrize("entry", ["run", "main"])
def test_the_program_pauses_the_garbage_collector_until_its_client_is_open(
    kb: str, entry: str
) -> None:
    """The program (``run``: the script, ``python -m``) makes no collection from its call
    until its client is open; then what start-up made is frozen and the collector runs
    again. ``main`` called by other code leaves the collector as it was."""
    argv = ["list-import-jobs", kb, "--output", "json"]
    done = subprocess.run(
        [sys.executable, "-c", _WATCH_GC, entry, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stderr.splitlines()[-1])
    if entry == "run":
        assert state == {"early": 0, "frozen": True, "on": True}
    else:
        assert state["early"] > 0 and state == state | {"frozen": False, "on": True}

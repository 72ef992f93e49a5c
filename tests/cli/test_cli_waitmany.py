"""wait-import-jobs: many jobs of several knowledge bases, each printed as it ends."""

from __future__ import annotations

import asyncio
import json

import pytest
from _cli_helpers import MISSING_KB, cli, on_a_terminal

from qconnect_async import QConnectClient
from qconnect_async.testing import QConnectServer

GOOD = b"Name,Content\nhello,Hello!\n"
BAD = b"Name,Content\nhello,\n"


def start(server: QConnectServer, contents: dict[str, list[bytes]]) -> list[tuple[str, str]]:
    """Start an import of each content in its KB: (KB, job ID) pairs."""

    async def go() -> list[tuple[str, str]]:
        async with QConnectClient(endpoint_url=server.endpoint_url, region_name=server.region) as c:
            return [
                (kb, (await c.start_import_job(kb, data)).import_job_id)
                for kb, datas in contents.items()
                for data in datas
            ]

    return asyncio.run(go())


def test_jobs_of_two_kbs_are_printed_as_they_end_and_a_failure_exits_254(
    server: QConnectServer,
) -> None:
    """Positional KB and jobs plus --job pairs: each job printed once (ndjson, one line as it
    ends); a FAILED one with its failedRecordReport, and exit 254 once all ended."""
    kbs = [server.create_knowledge_base(f"kb{i}") for i in range(2)]
    pairs = start(server, {kbs[0]: [GOOD, BAD], kbs[1]: [GOOD]})
    argv = ["wait-import-jobs", kbs[0], pairs[0][1], pairs[1][1], "--job", *pairs[2]]
    done = cli(*argv, "--output", "ndjson")
    assert done.returncode == 254, done.stderr
    jobs = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(j["importJobId"] for j in jobs) == sorted(job for _, job in pairs)
    failed = [j for j in jobs if j["status"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["failedRecordReport"].startswith("http")
    assert "1 of 3 import jobs did not complete." in done.stderr
    assert failed[0]["failedRecordReport"] not in done.stderr


def test_waiting_draws_the_jobs_ended_on_a_terminal(server: QConnectServer) -> None:
    """On a terminal, stderr shows how many jobs ended so far; stdout holds the jobs."""
    kb = server.create_knowledge_base("kb")
    pairs = start(server, {kb: [GOOD, GOOD]})
    drawn, out = on_a_terminal("wait-import-jobs", kb, *(job for _, job in pairs))
    assert "waiting: 0/2 import jobs ended (0 failed)" in drawn
    assert len(json.loads(out)["importJobs"]) == 2


def test_a_wait_past_its_timeout_exits_255(server: QConnectServer) -> None:
    """Jobs that never end: exit 255 once --timeout passes."""
    server.set_job_completion(after_reads=None)
    kb = server.create_knowledge_base("kb")
    pairs = start(server, {kb: [GOOD]})
    done = cli("wait-import-jobs", "--job", *pairs[0], "--timeout", "0.5")
    assert done.returncode == 255 and "1 of 1 import jobs had not ended" in done.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["wait-import-jobs"], "required"),
        (["wait-import-jobs", MISSING_KB], "give the job IDs"),
        (["wait-import-jobs", MISSING_KB, "not-a-job"], "not an import job ID"),
        (["wait-import-jobs", "--job", "KB", "x"], "knowledge base"),
    ],
)
def test_bad_wait_command_lines_exit_252(
    server: QConnectServer, argv: list[str], says: str
) -> None:
    """No job, a KB without jobs, a bad KB or job ID: exit 252, one line, no request."""
    done = cli(*argv)
    assert (done.returncode, done.stdout) == (252, "")
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert server.stats.total_requests == 0

"""examples/export_jobs.py: a full export, and resuming after a failure, a cancel or a crash.

The invariant under test: after any interruption and a resume, the output holds every job of
the server exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from _scripts import load_example
from qconnect_async import ImportJobPage, QConnectClient
from qconnect_async.testing import QConnectServer

export_jobs = load_example("export_jobs")


@pytest.fixture
def server(qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch) -> QConnectServer:
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    return qconnect_server


@pytest.fixture
def seeded(server: QConnectServer) -> dict[str, list[str]]:
    """Three KBs, one of them empty: KB ID -> its job IDs."""
    kbs = {server.create_knowledge_base(name): n for name, n in [("a", 230), ("b", 0), ("c", 75)]}
    return {kb: server.add_import_jobs(kb, n) for kb, n in kbs.items()}


def written(out: Path) -> Counter[str]:
    """How many times each job ID is in the output (every line must be a whole job)."""
    jobs = [json.loads(line) for line in out.read_text().splitlines()]
    return Counter(job["importJobId"] for job in jobs)


def every_job_once(out: Path, seeded: dict[str, list[str]]) -> bool:
    return written(out) == Counter(job for jobs in seeded.values() for job in jobs)


def state_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_full_export_writes_every_job_once(
    tmp_path: Path,
    seeded: dict[str, list[str]],
    server: QConnectServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """All KBs by default; a second run finds everything done and lists no job again."""
    out = tmp_path / "jobs.ndjson"
    assert export_jobs.main([str(out), "--page-size", "50"]) == 0
    assert every_job_once(out, seeded)
    line = json.loads(out.read_text().splitlines()[0])
    assert {"importJobId", "knowledgeBaseId", "status", "createdTime"} <= set(line)
    state = state_of(tmp_path / "jobs.ndjson.state.json")
    assert state["output_bytes"] == out.stat().st_size
    assert all(kb["done"] and kb["next_token"] is None for kb in state["knowledge_bases"].values())
    err = capsys.readouterr().err
    assert sorted(err.splitlines()[:3]) == sorted(f"{kb}: done" for kb in seeded)
    assert err.splitlines()[-1] == f"305 import jobs in {out}"
    server.reset_stats()
    assert export_jobs.main([str(out)]) == 0
    assert every_job_once(out, seeded)
    assert server.stats.requests.get("ListImportJobs", 0) == 0


def test_a_kb_failing_mid_way_resumes_from_its_last_page(
    tmp_path: Path,
    seeded: dict[str, list[str]],
    server: QConnectServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A KB fails after its first page: the others finish, exit 1; a rerun completes it."""
    failing = next(iter(seeded))
    server.repeat_token(knowledge_base_id=failing)  # its second page loops: PaginationLoop
    out, state = tmp_path / "out.ndjson", tmp_path / "state.json"
    argv = [str(out), "--state", str(state), "--page-size", "50", *seeded]
    assert export_jobs.main(argv) == 1
    assert "PaginationLoop" in capsys.readouterr().err
    entry = state_of(state)["knowledge_bases"][failing]
    assert (entry["done"], entry["jobs"]) == (False, 50) and entry["next_token"]
    assert sum(written(out).values()) == 50 + 0 + 75
    server.reset_stats()
    assert export_jobs.main(argv) == 0
    assert every_job_once(out, seeded)
    assert server.stats.requests["ListImportJobs"] == 4  # only the failed KB's 4 other pages


async def run_export(server: QConnectServer, out: Path, state_path: Path, **options: Any) -> None:
    """What main() does, inside the test's event loop."""
    state = export_jobs.State.load(state_path)
    with export_jobs.open_output(out, state) as f:
        async with QConnectClient(endpoint_url=server.endpoint_url) as client:
            await export_jobs.export(client, export_jobs.Sink(f, state), state, None, **options)


async def test_cancelled_after_some_pages_then_resumed(
    tmp_path: Path, seeded: dict[str, list[str]], server: QConnectServer
) -> None:
    """Cancel (Ctrl-C) after 3 pages: what is on disk is what the state says; resume ends it."""
    out, state_path = tmp_path / "out.ndjson", tmp_path / "state.json"
    pages = 0

    def on_page(page: ImportJobPage) -> None:
        nonlocal pages
        pages += 1
        if pages == 3:
            task.cancel()

    task = asyncio.create_task(run_export(server, out, state_path, page_size=20, on_page=on_page))
    with pytest.raises(asyncio.CancelledError):
        await task
    state = state_of(state_path)
    assert state["output_bytes"] == out.stat().st_size
    done_jobs = sum(kb["jobs"] for kb in state["knowledge_bases"].values())
    assert sum(written(out).values()) == done_jobs < 305
    await run_export(server, out, state_path, page_size=20)
    assert every_job_once(out, seeded)


async def test_a_page_written_but_not_recorded_is_written_again_once(
    tmp_path: Path, seeded: dict[str, list[str]], server: QConnectServer
) -> None:
    """A crash between writing a page and saving the state: the page is cut off, then redone."""
    out, state_path = tmp_path / "out.ndjson", tmp_path / "state.json"
    kb = next(iter(seeded))
    server.fail(code="AccessDeniedException", status=403, times=None, knowledge_base_id=kb)
    await run_export(server, out, state_path, page_size=100)  # every KB but `kb` done
    server.clear_faults()
    # What a crash after the write and before the state save leaves: more, even half, lines.
    first_page = [json.dumps({"importJobId": job}) for job in seeded[kb][:100]]
    with out.open("a") as f:
        f.write("\n".join(first_page) + "\n" + '{"importJobId": "half')
    await run_export(server, out, state_path, page_size=100)
    assert every_job_once(out, seeded)


def test_refuses_an_output_it_cannot_resume(
    tmp_path: Path, server: QConnectServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing output without a state file, or shorter than recorded: exit 2, untouched."""
    out = tmp_path / "out.ndjson"
    out.write_text("someone else's data\n")
    assert export_jobs.main([str(out)]) == 2
    assert "nothing to resume from" in capsys.readouterr().err
    (tmp_path / "out.ndjson.state.json").write_text(
        json.dumps({"version": 1, "output_bytes": 1000, "knowledge_bases": {}})
    )
    assert export_jobs.main([str(out)]) == 2
    assert "shorter" in capsys.readouterr().err
    assert out.read_text() == "someone else's data\n"

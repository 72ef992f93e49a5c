"""What the commands print: the AWS CLI's json and text, --query, ndjson and csv, the output
settings, the progress line on a terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _cli_helpers import assert_same_document, cli, expected, ids, on_a_terminal, raw_answer

from qconnect_async import ImportJob, QConnectClient
from qconnect_async.testing import QConnectServer


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


def test_progress_is_drawn_on_a_terminal_and_cleared(kb: str) -> None:
    """With stderr on a TTY: a redrawn line of KBs done and jobs, erased at the end."""
    drawn, out = on_a_terminal("list-import-jobs", kb, "--output", "ndjson")
    assert len(out.splitlines()) == 25  # stdout (a file) holds only the jobs
    assert "listing: 0/1 knowledge bases done, 0 import jobs" in drawn
    assert drawn.endswith("\r\x1b[K")  # the line is erased before the command ends


def test_json_documents_keep_the_services_key_order(
    kb: str, server: QConnectServer, boto: Any
) -> None:
    """list-import-jobs, get-import-job and list-knowledge-bases print the service's documents
    key by key in the order aws prints them, botocore's model's (GetImportJob's url comes
    before createdTime there, unlike in ImportJob's fields), at every level."""
    server.create_knowledge_base("second", description="the other one", tags={"team": "a"})
    done = cli("list-import-jobs", kb)
    assert_same_document(
        json.loads(done.stdout), raw_answer(boto, "list_import_jobs", knowledgeBaseId=kb)
    )
    job_id = json.loads(done.stdout)["importJobSummaries"][0]["importJobId"]
    raw = raw_answer(boto, "get_import_job", knowledgeBaseId=kb, importJobId=job_id)
    # What makes the order worth testing: it is not ImportJob's field order.
    fields = list(ImportJob.model_json_schema(by_alias=True)["properties"])
    assert [k for k in fields if k in raw["importJob"]] != list(raw["importJob"])
    done = cli("get-import-job", kb, job_id)
    assert_same_document(json.loads(done.stdout), raw)
    done = cli("get-import-job", kb, job_id, "--output", "ndjson")
    assert_same_document(json.loads(done.stdout), raw["importJob"])
    done = cli("list-knowledge-bases")
    assert_same_document(json.loads(done.stdout), raw_answer(boto, "list_knowledge_bases"))


async def test_the_service_order_comes_from_the_model_the_client_loaded(
    client: QConnectClient, kb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a client is open, the key order is read from its loaded model: no second read."""
    import botocore.loaders

    from qconnect_async.cli import _output

    assert [job async for job in client.list_import_jobs(kb)]  # the client is open and used

    def no_second_read() -> None:
        raise AssertionError("the model file was read again")

    monkeypatch.setattr(botocore.loaders, "create_loader", no_second_read)
    _output._shapes.cache_clear()
    try:
        shapes = _output._shapes()
    finally:
        _output._shapes.cache_clear()
    assert list(shapes["ImportJobData"]["members"])[:2] == ["importJobId", "knowledgeBaseId"]

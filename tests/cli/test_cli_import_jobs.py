"""list-import-jobs: pagination and resume tokens as aws has them, several KBs merged, output
written as pages arrive, Ctrl-C, --debug."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
from typing import Any

import boto3
import pytest
from _cli_helpers import COMMAND, cli, expected, ids, started

from qconnect_async.testing import QConnectServer


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


def test_a_token_is_botocores_format() -> None:
    """Resume tokens are base64 JSON as botocore's paginator writes them."""
    from qconnect_async.cli._base import decode_token, encode_token

    token = encode_token("abc", 3)
    assert json.loads(base64.b64decode(token)) == {"nextToken": "abc", "boto_truncate_amount": 3}
    assert decode_token(token) == ("abc", 3)
    assert decode_token("a-raw-service-token") == ("a-raw-service-token", 0)


def test_arns_of_several_accounts_and_regions_are_listed_in_one_call(
    server: QConnectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KB ARNs of two Regions and of another account (reached by --role-name through STS on
    the same server) are listed in one call; --max-items is refused with them."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.endpoint_url)
    arns, want = [], set()
    for account, region in (
        (server.account_id, "us-east-1"),
        (server.account_id, "eu-west-2"),
        ("222222222222", "eu-west-2"),
    ):
        kb_id = server.create_knowledge_base(account=account, region=region)
        server.add_import_jobs(kb_id, 7, account=account, region=region)
        arns.append(f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb_id}")
        want |= {(job, kb_id) for job in _job_ids(server, kb_id, account, region)}
    done = cli("list-import-jobs", *arns, "--role-name", "importer", "--region", "us-east-1")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["importJobSummaries"]
    assert {(job["importJobId"], job["knowledgeBaseId"]) for job in listed} == want
    assert len(listed) == 21
    done = cli("list-import-jobs", *arns[:2], "--max-items", "3")
    assert done.returncode == 252
    assert "of one Region" in done.stderr


def _job_ids(server: QConnectServer, kb_id: str, account: str, region: str) -> list[str]:
    """The job IDs of a KB of any account and Region, as boto3 reads them."""
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account != server.account_id:
        sts = boto3.client("sts", endpoint_url=server.endpoint_url, region_name=region, **keys)
        role = f"arn:aws:iam::{account}:role/reader"
        found = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
        keys = {
            "aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"],
        }
    client = boto3.client("qconnect", endpoint_url=server.endpoint_url, region_name=region, **keys)
    pages = client.get_paginator("list_import_jobs").paginate(knowledgeBaseId=kb_id)
    return [job["importJobId"] for page in pages for job in page["importJobSummaries"]]

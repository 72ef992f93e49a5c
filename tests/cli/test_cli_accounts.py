"""The job commands on knowledge bases of other accounts and Regions: ``--role-name`` (STS
AssumeRole on the same fake) and ``--account-profile ACCOUNT=PROFILE`` (per-account keys)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from _cli_helpers import MISSING_KB, cli

from qconnect_async.testing import QConnectServer

OTHER = "222222222222"
_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture
def sts(server: QConnectServer, monkeypatch: pytest.MonkeyPatch) -> QConnectServer:
    """The fake as the STS endpoint too: the router learns the caller's account and assumes
    roles there, as on AWS."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.endpoint_url)
    return server


def _arn(account: str, region: str, kb_id: str) -> str:
    return f"arn:aws:wisdom:{region}:{account}:knowledge-base/{kb_id}"


def _boto(server: QConnectServer, account: str, region: str) -> Any:
    """boto3's qconnect client acting in ``account`` (by AssumeRole when not the server's)."""
    keys = dict(_KEYS)
    if account != server.account_id:
        sts = boto3.client("sts", endpoint_url=server.endpoint_url, region_name=region, **keys)
        role = f"arn:aws:iam::{account}:role/reader"
        found = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
        keys = {
            "aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"],
        }
    return boto3.client("qconnect", endpoint_url=server.endpoint_url, region_name=region, **keys)


def test_start_get_wait_delete_a_job_of_another_account_and_region_by_role_name(
    sts: QConnectServer, tmp_path: Path
) -> None:
    """start-, get-, wait- and delete-import-job take the ARN of a KB of another account in
    another Region with --role-name: the job is made, read and deleted there, as boto3 in that
    account and Region sees it, and in no KB of the caller's account."""
    sts.set_job_completion(after_reads=0)
    kb_id = sts.create_knowledge_base(account=OTHER, region="eu-west-2")
    arn, role = _arn(OTHER, "eu-west-2", kb_id), ("--role-name", "importer")
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"Name,Content\nhello,Hello! How can I help?\n")

    done = cli("start-import-job", arn, str(answers), *role)
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)["importJob"]
    assert started["knowledgeBaseArn"] == arn
    job_id = started["importJobId"]
    boto = _boto(sts, OTHER, "eu-west-2")
    assert boto.get_import_job(knowledgeBaseId=kb_id, importJobId=job_id)["importJob"]
    assert sts.uploaded(started["uploadId"]) == answers.read_bytes()

    done = cli("wait-import-job", arn, job_id, *role)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["importJob"]["status"] == "COMPLETE"
    done = cli("get-import-job", "--knowledge-base-id", arn, "--import-job-id", job_id, *role)
    got = json.loads(done.stdout)["importJob"]
    assert (got["importJobId"], got["status"]) == (job_id, "COMPLETE")

    done = cli("delete-import-job", arn, job_id, *role)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    listed = boto.list_import_jobs(knowledgeBaseId=kb_id)["importJobSummaries"]
    assert [job["status"] for job in listed] in (["DELETE_IN_PROGRESS"], ["DELETED"])
    assert sts.knowledge_base_ids() == []  # nothing landed in the caller's account


def test_an_account_profile_reaches_an_accounts_kbs_with_its_own_keys(
    sts: QConnectServer, tmp_path: Path
) -> None:
    """--account-profile ACCOUNT=PROFILE: that account's KBs are reached with the profile's
    keys (mapped to the account on the fake), no role assumed; list-import-jobs lists KBs of
    both accounts in two Regions, get-import-job reads a job of the other account."""
    credentials = tmp_path / "credentials"
    credentials.write_text("[other]\naws_access_key_id = other-key\naws_secret_access_key = x\n")
    sts.set_account("other-key", OTHER)
    arns, want = [], {}
    for account, region in ((sts.account_id, "us-east-1"), (OTHER, "eu-west-2")):
        kb_id = sts.create_knowledge_base(account=account, region=region)
        want[kb_id] = set(sts.add_import_jobs(kb_id, 3, account=account, region=region))
        arns.append(_arn(account, region, kb_id))
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    profile = ("--account-profile", f"{OTHER}=other")

    done = cli("list-import-jobs", *arns, *profile, env=env)
    assert done.returncode == 0, done.stderr
    listed: dict[str, set[str]] = {}
    for job in json.loads(done.stdout)["importJobSummaries"]:
        listed.setdefault(job["knowledgeBaseId"], set()).add(job["importJobId"])
    assert listed == want

    other_kb = arns[1].rsplit("/", 1)[1]
    job_id = sorted(want[other_kb])[0]
    done = cli("get-import-job", arns[1], job_id, *profile, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["importJob"]["knowledgeBaseArn"] == arns[1]
    # A profile of another account only (and no role): this one is not reached.
    done = cli("get-import-job", arns[1], job_id, "--account-profile", f"{OTHER[:-1]}3=other")
    assert (done.returncode, done.stdout) == (252, "")
    assert f"account {OTHER} is not the caller's" in done.stderr


def test_wait_import_jobs_waits_for_jobs_of_two_accounts_in_two_regions(
    sts: QConnectServer,
) -> None:
    """wait-import-jobs --job ARN JOB of two accounts x two Regions (--role-name): each job is
    printed as it ends, with its KB; one FAILED among them exits 254."""
    pairs, want = [], {}
    for account in (sts.account_id, OTHER):
        for region in ("us-east-1", "eu-west-2"):
            kb_id = sts.create_knowledge_base(account=account, region=region)
            status = "FAILED" if (account, region) == (OTHER, "us-east-1") else "COMPLETE"
            (job_id,) = sts.add_import_jobs(kb_id, 1, status=status, account=account, region=region)
            pairs += ["--job", _arn(account, region, kb_id), job_id]
            want[job_id] = (kb_id, status)
    done = cli("wait-import-jobs", *pairs, "--role-name", "importer")
    assert done.returncode == 254, done.stderr
    ended = json.loads(done.stdout)["importJobs"]
    assert {j["importJobId"]: (j["knowledgeBaseId"], j["status"]) for j in ended} == want
    assert "1 of 4 import jobs did not complete" in done.stderr


def test_an_upload_of_another_account_and_region_is_resumed_with_a_role(
    sts: QConnectServer, tmp_path: Path
) -> None:
    """start-import-job --presigned-url-ttl with --role-name, its StartImportJob denied once:
    the error says --upload-id, and that start from the upload (no second PUT) makes the job in
    the other account and Region."""
    kb_id = sts.create_knowledge_base(account=OTHER, region="eu-west-2")
    arn, role = _arn(OTHER, "eu-west-2", kb_id), ("--role-name", "importer")
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"Name,Content\nhello,Hello! How can I help?\n")
    sts.fail("StartImportJob", code="AccessDeniedException", status=403)
    done = cli("start-import-job", arn, str(answers), "--presigned-url-ttl", "5", *role)
    assert (done.returncode, done.stdout) == (254, "")
    upload_id = done.stderr.rsplit("--upload-id ", 1)[1].split()[0]
    sts.clear_faults()
    done = cli("start-import-job", arn, "--upload-id", upload_id, *role)
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)["importJob"]
    assert (started["knowledgeBaseArn"], started["uploadId"]) == (arn, upload_id)
    assert sts.uploaded(upload_id) == answers.read_bytes()
    assert sts.stats.requests["PutObject"] == 1
    listed = _boto(sts, OTHER, "eu-west-2").list_import_jobs(knowledgeBaseId=kb_id)
    assert [j["importJobId"] for j in listed["importJobSummaries"]] == [started["importJobId"]]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["list-import-jobs", MISSING_KB, "--account-profile", "other"], "not ACCOUNT=PROFILE"),
        (["get-import-job", MISSING_KB, "--account-profile", "12=x"], "not ACCOUNT=PROFILE"),
        (["list-import-jobs", "--all", "--role-name", "r"], "--all lists one account"),
    ],
)
def test_bad_account_options_exit_252(server: QConnectServer, argv: list[str], says: str) -> None:
    """A malformed --account-profile, or --all with a router: exit 252, one line, no request
    sent."""
    done = cli(*argv)
    assert (done.returncode, done.stdout) == (252, "")
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert server.stats.total_requests == 0


def test_a_bare_kb_id_with_a_role_is_in_the_region_of_the_aws_settings(
    sts: QConnectServer,
) -> None:
    """With --role-name, a bare KB ID (no ARN) is the caller's, in the Region of the AWS
    settings (AWS_DEFAULT_REGION here, no --region), as without the option."""
    kb_id = sts.create_knowledge_base()
    (job_id,) = sts.add_import_jobs(kb_id, 1)
    done = cli("get-import-job", kb_id, job_id, "--role-name", "importer")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["importJob"]["importJobId"] == job_id
    done = cli("list-import-jobs", kb_id, "--role-name", "importer")
    assert done.returncode == 0, done.stderr
    assert [j["importJobId"] for j in json.loads(done.stdout)["importJobSummaries"]] == [job_id]
    done = cli("list-import-jobs", kb_id, "--role-name", "importer", "--profile", "nope")
    assert (done.returncode, done.stdout) == (253, "")
    assert "The config profile (nope) could not be found" in done.stderr

"""list-knowledge-bases: every knowledge base as aws prints them, with the conventions of
list-import-jobs (--max-items and NextToken, --starting-token, --page-size, --query, --output)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from _cli_helpers import MISSING_KB, cli

from qconnect_async.testing import QConnectServer


@pytest.fixture
def kbs(server: QConnectServer) -> list[str]:
    """Five knowledge bases, one with a description and tags."""
    first = server.create_knowledge_base("kb-a", description="answers", tags={"team": "support"})
    return [first, *(server.create_knowledge_base(f"kb-{c}") for c in "bcde")]


def listed(boto: Any) -> list[dict[str, Any]]:
    """Every knowledge base as boto3 reads them (times as aws prints them, if any)."""
    found = []
    for page in boto.get_paginator("list_knowledge_bases").paginate():
        for kb in page["knowledgeBaseSummaries"]:
            found.append(
                {
                    k: v.astimezone(UTC).isoformat() if hasattr(v, "astimezone") else v
                    for k, v in kb.items()
                }
            )
    return found


def names(document: dict[str, Any]) -> list[str]:
    return [kb["name"] for kb in document["knowledgeBaseSummaries"]]


def test_json_lists_every_knowledge_base_as_aws_prints_them(kbs: list[str], boto: Any) -> None:
    """{"knowledgeBaseSummaries": [...]} indented by 4, what boto3 reads, no NextToken."""
    done = cli("list-knowledge-bases")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {"knowledgeBaseSummaries": listed(boto)}
    assert done.stdout == json.dumps(json.loads(done.stdout), indent=4) + "\n"


@pytest.mark.parametrize("page_size", [None, "2"])
def test_max_items_prints_a_token_that_resumes(
    kbs: list[str], boto: Any, server: QConnectServer, page_size: str | None
) -> None:
    """--max-items cuts the listing and prints NextToken, --starting-token goes on from it:
    every KB printed once, within a page or across pages (--page-size sets each request)."""
    want = [kb["name"] for kb in listed(boto)]
    got: list[str] = []
    token = None
    server.reset_stats()
    for _ in range(3):
        argv = ["list-knowledge-bases", "--max-items", "2"]
        argv += ["--page-size", page_size] if page_size else []
        done = cli(*argv, *(["--starting-token", token] if token else []))
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        got += names(document)
        token = document.get("NextToken")
        if token is None:
            break
    assert got == want  # 2 + 2 + 1
    if page_size:  # 2 KBs a request: each run reads one page, from where the last stopped
        assert server.stats.requests["ListKnowledgeBases"] == 1 + 1 + 1


def test_tokens_pass_between_botocore_and_the_command(kbs: list[str], boto: Any) -> None:
    """botocore's NextToken (as aws prints it) resumes here, and ours resumes botocore's."""
    want = [kb["name"] for kb in listed(boto)]
    first = (
        boto.get_paginator("list_knowledge_bases")
        .paginate(PaginationConfig={"MaxItems": 3})
        .build_full_result()
    )
    done = cli("list-knowledge-bases", "--starting-token", first["NextToken"])
    assert [kb["name"] for kb in first["knowledgeBaseSummaries"]] + names(
        json.loads(done.stdout)
    ) == want
    token = json.loads(cli("list-knowledge-bases", "--max-items", "2").stdout)["NextToken"]
    rest = (
        boto.get_paginator("list_knowledge_bases")
        .paginate(PaginationConfig={"StartingToken": token})
        .build_full_result()
    )
    assert [kb["name"] for kb in rest["knowledgeBaseSummaries"]] == want[2:]


def test_every_output_format_and_query(kbs: list[str], boto: Any) -> None:
    """text (aws's), table (a row per KB and a count), ndjson, csv, and --query."""
    want = [kb["name"] for kb in listed(boto)]
    text = cli("list-knowledge-bases", "--output", "text").stdout.splitlines()
    rows = [line.split("\t") for line in text if line.startswith("KNOWLEDGEBASESUMMARIES\t")]
    assert len(rows) == 5 and ["TAGS", "support"] in [line.split("\t") for line in text]
    table = cli("list-knowledge-bases", "--output", "table").stdout.splitlines()
    assert table[0].split() == ["NAME", "KNOWLEDGE", "BASE", "ID", "TYPE", "STATUS"]
    assert [line.split()[0] for line in table[1:-1]] == want
    assert table[-1] == "5 knowledge bases"
    ndjson = cli("list-knowledge-bases", "--output", "ndjson").stdout.splitlines()
    assert [json.loads(line)["name"] for line in ndjson] == want
    csv = cli("list-knowledge-bases", "--output", "csv").stdout.splitlines()
    assert csv[0].startswith("knowledgeBaseId,name,knowledgeBaseType,status,")
    assert [line.split(",")[1] for line in csv[1:]] == want
    done = cli("list-knowledge-bases", "--max-items", "2", "--output", "csv")
    assert len(done.stdout.splitlines()) == 3 and done.stderr.startswith("NextToken: ")
    query = "knowledgeBaseSummaries[?name=='kb-a'].knowledgeBaseId"
    done = cli("list-knowledge-bases", "--query", query, "--output", "text")
    assert done.stdout == f"{kbs[0]}\n"


def test_the_demo_lists_its_knowledge_bases(no_aws: dict[str, str]) -> None:
    """--demo serves the demo's three knowledge bases, with no AWS setup at all."""
    done = cli("list-knowledge-bases", "--demo", env=no_aws)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert {line.split()[0] for line in lines[1:-1]} == {
        "support-faq",
        "billing-answers",
        "onboarding",
    }
    assert lines[-1] == "3 knowledge bases"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--page-size", "0"], "--page-size: must be at least 1, not 0"),
        (["--page-size", "101"], "--page-size: must be between 1 and 100, not 101"),
        (["--max-items", "x"], "--max-items: not a whole number"),
        (["--starting-token", "x" * 5000], "starting_token must be 1 to 4096 characters"),
        ([MISSING_KB], "Unknown options"),
    ],
)
def test_bad_command_lines_exit_252(server: QConnectServer, argv: list[str], says: str) -> None:
    """A bad command line: exit 252, one line saying what is wrong, no request sent."""
    done = cli("list-knowledge-bases", *argv)
    assert (done.returncode, done.stdout) == (252, "")
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert server.stats.total_requests == 0

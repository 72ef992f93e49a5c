"""The fake serves several accounts and Regions: data and rate limits apart for each pair.

The account of a request comes from its access key: a key mapped with `set_account`, or a key
that STS AssumeRole on the same server returned (moto's STS, as moto does it); any other key acts
in the server's account. The Region is the one the request is signed for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from _server_helpers import NO_RETRY
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from qconnect_async.testing import QConnectServer, RemoteQConnectServer

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"
REGIONS = ("us-east-1", "eu-west-2")


def assume_role(server: QConnectServer, account: str) -> dict[str, str]:
    """Credentials of a role of `account`, from STS AssumeRole on the server (moto's STS)."""
    sts = boto3.client("sts", endpoint_url=server.endpoint_url, region_name="us-east-1")
    role = f"arn:aws:iam::{account}:role/importer"
    found = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    sts.close()
    return {
        "aws_access_key_id": found["AccessKeyId"],
        "aws_secret_access_key": found["SecretAccessKey"],
        "aws_session_token": found["SessionToken"],
    }


@pytest.fixture
def credentials(qconnect_server: QConnectServer) -> Iterator[dict[str, dict[str, str]]]:
    """Account A by a mapped key, account B by an assumed role."""
    qconnect_server.set_account("AKIDACCOUNTA", ACCOUNT_A)
    yield {
        ACCOUNT_A: {"aws_access_key_id": "AKIDACCOUNTA", "aws_secret_access_key": "x"},
        ACCOUNT_B: assume_role(qconnect_server, ACCOUNT_B),
    }


def client_of(server: QConnectServer, keys: dict[str, str], region: str) -> Any:
    return boto3.client(
        "qconnect", endpoint_url=server.endpoint_url, region_name=region, config=NO_RETRY, **keys
    )


def served(client: Any, attempts: int) -> list[int]:
    """The HTTP status of each of `attempts` ListKnowledgeBases."""
    statuses = []
    for _ in range(attempts):
        try:
            statuses.append(client.list_knowledge_bases()["ResponseMetadata"]["HTTPStatusCode"])
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException"
            statuses.append(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return statuses


def test_two_accounts_by_two_regions_each_see_their_own_rate_limit(
    qconnect_server: QConnectServer, credentials: dict[str, dict[str, str]]
) -> None:
    """Four (account, Region) pairs, four limits (bursts 1-4, no refill to speak of): each
    pair is served exactly its own burst, then throttled with a 400, whatever the others do."""
    bursts = {}
    for n, (account, region) in enumerate(
        [(a, r) for a in (ACCOUNT_A, ACCOUNT_B) for r in REGIONS], start=1
    ):
        qconnect_server.set_rate_limit(0.001, burst=n, account=account, region=region)
        bursts[(account, region)] = n
    clients = {pair: client_of(qconnect_server, credentials[pair[0]], pair[1]) for pair in bursts}
    seen = {pair: served(client, 6) for pair, client in clients.items()}
    for pair, n in bursts.items():
        assert seen[pair] == [200] * n + [400] * (6 - n), pair
    assert qconnect_server.stats.throttled == sum(6 - n for n in bursts.values())
    for client in clients.values():
        client.close()


def test_a_limit_for_no_account_is_one_bucket_per_account_and_region(
    qconnect_server: QConnectServer, credentials: dict[str, dict[str, str]]
) -> None:
    """account=None, region=None: every pair gets the limit, each in a bucket of its own; a
    more specific limit wins over it, and removing that one brings the general one back."""
    qconnect_server.set_rate_limit(0.001, burst=2)
    qconnect_server.set_rate_limit(0.001, burst=1, account=ACCOUNT_B)
    a, b = (
        client_of(qconnect_server, credentials[acc], "us-east-1") for acc in (ACCOUNT_A, ACCOUNT_B)
    )
    a_west = client_of(qconnect_server, credentials[ACCOUNT_A], "eu-west-2")
    assert served(a, 3) == [200, 200, 400]
    assert served(a_west, 3) == [200, 200, 400]
    assert served(b, 2) == [200, 400]
    qconnect_server.set_rate_limit(None, account=ACCOUNT_B)  # buckets refill
    assert served(b, 3) == [200, 200, 400]
    for client in (a, b, a_west):
        client.close()


def test_knowledge_bases_and_jobs_belong_to_one_account_and_region(
    qconnect_server: QConnectServer, credentials: dict[str, dict[str, str]]
) -> None:
    """A KB made over the API in A/us-east-1 is not found from B or from A's other Region;
    the controls seed any account and Region, and their ARNs say where."""
    a = client_of(qconnect_server, credentials[ACCOUNT_A], "us-east-1")
    b = client_of(qconnect_server, credentials[ACCOUNT_B], "us-east-1")
    a_west = client_of(qconnect_server, credentials[ACCOUNT_A], "eu-west-2")
    made = a.create_knowledge_base(name="a", knowledgeBaseType="QUICK_RESPONSES")["knowledgeBase"]
    assert made["knowledgeBaseArn"].startswith(f"arn:aws:wisdom:us-east-1:{ACCOUNT_A}:")
    for other in (b, a_west):
        with pytest.raises(other.exceptions.ResourceNotFoundException):
            other.get_knowledge_base(knowledgeBaseId=made["knowledgeBaseId"])
        assert other.list_knowledge_bases()["knowledgeBaseSummaries"] == []
    seeded = qconnect_server.seed(1, 3, account=ACCOUNT_B, region="eu-west-2")[0]
    b_west = client_of(qconnect_server, credentials[ACCOUNT_B], "eu-west-2")
    jobs = b_west.list_import_jobs(knowledgeBaseId=seeded)["importJobSummaries"]
    arn = qconnect_server.knowledge_base_arn(seeded, account=ACCOUNT_B, region="eu-west-2")
    assert len(jobs) == 3 and {j["knowledgeBaseArn"] for j in jobs} == {arn}
    # An ARN names its own account and Region to the controls.
    assert len(qconnect_server.add_import_jobs(arn, 2)) == 2
    assert qconnect_server.knowledge_base_ids(account=ACCOUNT_B, region="eu-west-2") == [seeded]
    assert qconnect_server.knowledge_base_ids() == []  # the server's own account and Region
    for client in (a, b, a_west, b_west):
        client.close()


def test_every_region_botocore_knows_for_qconnect_is_served_apart(
    qconnect_server: QConnectServer,
) -> None:
    """Each of botocore's qconnect Regions takes a KB and lists only its own."""
    regions = boto3.session.Session().get_available_regions("qconnect")
    assert len(regions) >= 9
    made = {}
    for region in regions:
        client = client_of(qconnect_server, {}, region)
        made[region] = client.create_knowledge_base(
            name=region, knowledgeBaseType="QUICK_RESPONSES"
        )["knowledgeBase"]
        client.close()
    for region in regions:
        client = client_of(qconnect_server, {}, region)
        listed = client.list_knowledge_bases()["knowledgeBaseSummaries"]
        assert [k["knowledgeBaseArn"] for k in listed] == [made[region]["knowledgeBaseArn"]]
        assert f":wisdom:{region}:" in made[region]["knowledgeBaseArn"]
        client.close()


async def test_aiobotocore_sees_accounts_regions_and_their_limits(
    qconnect_server: QConnectServer,
) -> None:
    """Contract: aiobotocore assumes a role on the server, lists that account's KBs only, and
    meets that account's limit as a 400 ThrottlingException."""
    kb = qconnect_server.create_knowledge_base(account=ACCOUNT_B, region="eu-west-2")
    qconnect_server.create_knowledge_base()  # the server's account: not B's
    qconnect_server.set_rate_limit(0.001, burst=1, account=ACCOUNT_B, region="eu-west-2")
    session = get_session()
    async with session.create_client(
        "sts", endpoint_url=qconnect_server.endpoint_url, region_name="eu-west-2"
    ) as sts:
        role = f"arn:aws:iam::{ACCOUNT_B}:role/importer"
        found = (await sts.assume_role(RoleArn=role, RoleSessionName="aio"))["Credentials"]
    async with session.create_client(
        "qconnect",
        endpoint_url=qconnect_server.endpoint_url,
        region_name="eu-west-2",
        aws_access_key_id=found["AccessKeyId"],
        aws_secret_access_key=found["SecretAccessKey"],
        aws_session_token=found["SessionToken"],
        config=NO_RETRY,
    ) as client:
        listed = (await client.list_knowledge_bases())["knowledgeBaseSummaries"]
        assert [k["knowledgeBaseId"] for k in listed] == [kb]
        with pytest.raises(ClientError) as info:
            await client.list_knowledge_bases()
    meta = info.value.response["ResponseMetadata"]
    assert (info.value.response["Error"]["Code"], meta["HTTPStatusCode"]) == (
        "ThrottlingException",
        400,
    )


def test_accounts_and_scoped_limits_work_over_http(qconnect_server: QConnectServer) -> None:
    """RemoteQConnectServer maps keys, seeds another account and limits one pair."""
    remote = RemoteQConnectServer(qconnect_server.endpoint_url)
    remote.set_account("AKIDREMOTE", ACCOUNT_A)
    kb = remote.create_knowledge_base(account=ACCOUNT_A)
    remote.set_rate_limit(0.001, burst=1, account=ACCOUNT_A, region="us-east-1")
    keys = {"aws_access_key_id": "AKIDREMOTE", "aws_secret_access_key": "x"}
    client = client_of(qconnect_server, keys, "us-east-1")
    assert [
        k["knowledgeBaseId"] for k in client.list_knowledge_bases()["knowledgeBaseSummaries"]
    ] == [kb]
    assert served(client, 1) == [400]
    with pytest.raises(ValueError, match="12 digits"):
        remote.set_account("AKIDREMOTE", "not-an-account")
    client.close()


def test_a_role_lifetime_sets_the_expiration_sts_answers_and_refuses_keys_after_it(
    qconnect_server: QConnectServer,
) -> None:
    """set_role_lifetime(0): AssumeRole's answer expires now, and a qconnect request signed with
    its keys is a 403 ExpiredTokenException; None: moto's lifetimes, not enforced, again."""
    qconnect_server.set_role_lifetime(0)
    sts = boto3.client("sts", endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1")
    found = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_B}:role/r", RoleSessionName="test")
    sts.close()
    expiration = found["Credentials"]["Expiration"].timestamp()
    assert abs(expiration - time.time()) < 60  # moto's own: an hour from now
    keys = {
        "aws_access_key_id": found["Credentials"]["AccessKeyId"],
        "aws_secret_access_key": found["Credentials"]["SecretAccessKey"],
        "aws_session_token": found["Credentials"]["SessionToken"],
    }
    client = client_of(qconnect_server, keys, "us-east-1")
    with pytest.raises(ClientError) as caught:
        client.list_knowledge_bases()
    assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    qconnect_server.set_role_lifetime(None)
    again = client_of(qconnect_server, assume_role(qconnect_server, ACCOUNT_B), "us-east-1")
    assert served(again, 1) == [200]

"""A QConnectRouter's STS: roles assumed ahead of the first request, and cleaned up on close,
against the fake's STS (moto's, on the same server)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qconnect_async import ValidationError
from qconnect_async._sts import PairCredentials, RoleProvider, Sts
from qconnect_async.testing import QConnectServer

OWN = "123456789012"  # the account of the tests' default keys
OTHER = "222222222222"
ROLE = f"arn:aws:iam::{OTHER}:role/importer"


def sts_on(server: QConnectServer) -> Sts:
    return Sts(
        endpoint_url=server.endpoint_url, profile_name=None, connect_timeout=5.0, read_timeout=5.0
    )


def keys(name: str) -> dict[str, Any]:
    """Credentials as an AssumeRole fetch hands them to botocore, valid for an hour."""
    expiry = datetime.now(UTC) + timedelta(hours=1)
    return {"access_key": name, "secret_key": "s", "token": "t", "expiry_time": expiry.isoformat()}


async def test_a_roles_first_assume_role_starts_with_its_provider_and_signs_the_first_request(
    qconnect_server: QConnectServer,
) -> None:
    """The AssumeRole starts when the provider is made (while the pair's client opens), and
    the credentials the first request signs with are that AssumeRole's, not a second one's."""
    sts = sts_on(qconnect_server)
    try:
        provider = sts.role_provider(ROLE, "us-east-1")
        [started] = sts._ahead  # the one piece of work started: the role's AssumeRole
        fetched = await started
        credentials = await provider.load_credentials()
        frozen = await credentials.get_frozen_credentials()
    finally:
        await sts.close()
    assert frozen.access_key == fetched["access_key"]
    assert frozen.token == fetched["token"]


async def test_closing_ends_the_work_started_ahead(qconnect_server: QConnectServer) -> None:
    """close() right after a role's provider and a Region's warm-up were started leaves no
    task of them running."""
    sts = sts_on(qconnect_server)
    sts.role_provider(ROLE, "eu-west-2")
    sts.warm("us-west-2")
    ahead = set(sts._ahead)
    await sts.close()
    assert ahead and all(task.done() for task in ahead)
    assert not sts._ahead


async def test_after_a_failed_first_assume_role_the_next_signing_assumes_again() -> None:
    """The first refresh takes the fetch started ahead; when it failed, the next one fetches
    anew (and so does every refresh after the first)."""
    calls: list[str] = []

    async def fetch() -> dict[str, Any]:
        calls.append("fetch")
        return keys(f"AKID{len(calls)}")

    async def failing() -> dict[str, Any]:
        raise RuntimeError("STS was away")

    first = asyncio.ensure_future(failing())
    provider = RoleProvider(fetch, first)
    with pytest.raises(RuntimeError, match="away"):
        await provider._refresh()
    assert (await provider._refresh())["access_key"] == "AKID1"
    assert (await provider._refresh())["access_key"] == "AKID2"
    assert calls == ["fetch", "fetch"]


async def test_a_pairs_credentials_are_decided_by_the_callers_account(
    qconnect_server: QConnectServer,
) -> None:
    """Pairs of the caller's account share the caller's credentials, resolved once; another
    account's pair gets its role's; another account with no way in is a ValidationError."""
    sts = sts_on(qconnect_server)

    def caller() -> Any:
        return sts.caller_account("us-east-1")

    def role() -> RoleProvider:
        return sts.role_provider(ROLE, "us-east-1")

    def none() -> RoleProvider:
        raise ValidationError("no way in")

    try:
        own = [await PairCredentials(sts, caller, none, account=OWN).load_credentials()]
        own.append(await PairCredentials(sts, caller, none, account=OWN).load_credentials())
        other = await PairCredentials(sts, caller, role, account=OTHER).load_credentials()
        own_keys = await own[0].get_frozen_credentials()
        other_keys = await other.get_frozen_credentials()
        with pytest.raises(ValidationError, match="no way in"):
            await PairCredentials(sts, caller, none, account=OTHER).load_credentials()
    finally:
        await sts.close()
    assert own[0] is own[1]
    assert own_keys.access_key == "testing"
    assert other_keys.access_key != "testing" and other_keys.token

"""STS for a QConnectRouter: the caller's account, and roles of other accounts, refreshed.

A role's credentials are botocore's own refreshable kind (``AioDeferredRefreshableCredentials``,
as botocore's assume-role provider builds them): fetched on first use, fetched again before
they expire (botocore refreshes within 15 minutes of the expiry, and must within 10), with one
refresh at a time. Each fetch is one AssumeRole on an STS client of the pair's Region, opened
once (off the loop, on the shared loader) and kept until the router closes. Nothing secret is
logged: STS's answers go through the same redaction as the service's.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, CredentialRetrievalError

from ._errors import CredentialsError
from ._redact import in_our_call, unwatch, watch
from ._warmup import warmed_session

__all__ = ["RoleProvider", "Sts", "role_arn"]

_SESSION_NAME = "qconnect-async"
_METHOD = "assume-role"


def role_arn(role: str, account: str, region: str) -> str:
    """The ARN of the role to assume in ``account``: a role name, or an ARN pattern with
    ``{account_id}`` in it; the partition is the Region's."""
    if role.startswith("arn:"):
        return role.format(account_id=account)
    partition = "aws"
    if region.startswith("cn-"):
        partition = "aws-cn"
    elif region.startswith("us-gov-"):
        partition = "aws-us-gov"
    return f"arn:{partition}:iam::{account}:role/{role}"


class Sts:
    """STS clients (one per Region, opened on first use) and what the router asks of them."""

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        profile_name: str | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._profile = profile_name
        self._config = AioConfig(
            retries={"mode": "standard", "total_max_attempts": 3},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._watching = False

    async def _client(self, region: str) -> Any:
        async with self._lock:
            client = self._clients.get(region)
            if client is None:
                session = await warmed_session(
                    None, partial(AioSession, profile=self._profile), "sts"
                )
                client = await self._stack.enter_async_context(
                    session.create_client(
                        "sts",
                        region_name=region,
                        endpoint_url=self._endpoint_url,
                        config=self._config,
                    )
                )
                self._clients[region] = client
                if not self._watching:
                    watch()  # botocore's DEBUG lines of these requests are redacted
                    self._watching = True
            return client

    async def caller_account(self, region: str) -> str:
        """The account of the default credentials (GetCallerIdentity needs no permission)."""
        try:
            sts = await self._client(region)
            with in_our_call():
                answer = await sts.get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            raise CredentialsError(
                f"could not learn the caller's account: {type(exc).__name__}", region=region
            ) from exc
        return str(answer["Account"])

    def role_provider(self, role_arn: str, region: str) -> RoleProvider:
        """A credential provider of ``role_arn``, assumed through STS in ``region``."""
        return RoleProvider(partial(self._assume, role_arn, region))

    async def _assume(self, role_arn: str, region: str) -> dict[str, Any]:
        try:
            sts = await self._client(region)
            with in_our_call():
                answer = await sts.assume_role(RoleArn=role_arn, RoleSessionName=_SESSION_NAME)
        except (ClientError, BotoCoreError) as exc:
            # botocore's kind of "no usable credentials": the transport makes it a
            # CredentialsError of the request being signed.
            code = exc.response["Error"].get("Code") if isinstance(exc, ClientError) else None
            raise CredentialRetrievalError(
                provider=_METHOD, error_msg=f"AssumeRole of {role_arn} failed: {code or exc}"
            ) from exc
        found = answer["Credentials"]
        return {
            "access_key": found["AccessKeyId"],
            "secret_key": found["SecretAccessKey"],
            "token": found["SessionToken"],
            "expiry_time": found["Expiration"].isoformat(),
        }

    async def close(self) -> None:
        """Close every STS client."""
        self._clients.clear()
        try:
            await self._stack.aclose()
        finally:
            if self._watching:
                self._watching = False
                unwatch()


class RoleProvider:
    """botocore's credential provider interface (``load_credentials``) for one role."""

    def __init__(self, fetch: Any) -> None:
        self._fetch = fetch

    async def load_credentials(self) -> Any:
        """Refreshable credentials; nothing is fetched before the first request signs."""
        return AioDeferredRefreshableCredentials(refresh_using=self._fetch, method=_METHOD)

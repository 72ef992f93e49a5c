"""STS for a QConnectRouter: the caller's account, and roles of other accounts, refreshed.

A role's credentials are botocore's own refreshable kind (``AioDeferredRefreshableCredentials``,
as botocore's assume-role provider builds them): fetched again before they expire (botocore
refreshes within 15 minutes of the expiry, and must within 10), with one refresh at a time.
The first fetch starts as the provider is made, while the pair's client opens, so the first
request does not wait for a whole AssumeRole after the open. Each fetch is one AssumeRole on
an STS client of the pair's Region, opened once (off the loop, on the shared loader; Regions
side by side, and ``warm(region)`` starts one early) and kept until the router closes.
Nothing secret is logged: STS's answers go through the same redaction as the service's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, CredentialRetrievalError

from ._errors import CredentialsError
from ._redact import in_our_call, unwatch, watch
from ._warmup import warmed_session

__all__ = ["PairCredentials", "RoleProvider", "Sts", "role_arn"]

T = TypeVar("T")

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
        # One session (the caller's default credentials) for every Region's client; each
        # Region's client, opening or open: one open per Region, Regions side by side.
        self._session: asyncio.Task[Any] | None = None
        self._clients: dict[str, asyncio.Task[Any]] = {}
        self._caller_keys: asyncio.Task[Any] | None = None
        self._caller: asyncio.Task[str] | None = None
        # Work started ahead (opens, first AssumeRoles): cancelled and awaited by close().
        self._ahead: set[asyncio.Task[Any]] = set()
        self._watching = False

    def _started(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """``work`` as a task close() ends; its error is for whoever awaits it, if anyone."""
        task = asyncio.get_running_loop().create_task(work, name=f"qconnect-async-sts-{name}")
        self._ahead.add(task)
        task.add_done_callback(_settled(self._ahead))
        return task

    def _opening(self, region: str) -> asyncio.Task[Any]:
        task = self._clients.get(region)
        if _failed(task):
            task = self._clients[region] = self._started(self._open(region), f"open-{region}")
        assert task is not None
        return task

    async def _shared_session(self) -> Any:
        if _failed(self._session):
            self._session = self._started(
                warmed_session(None, partial(AioSession, profile=self._profile), "sts"), "session"
            )
        assert self._session is not None
        return await asyncio.shield(self._session)

    async def ready(self) -> None:
        """The STS session made (its thread work done), before other opens take the threads."""
        await self._shared_session()

    async def caller_credentials(self) -> Any:
        """The default chain's credentials (the caller's, as GetCallerIdentity sees them),
        resolved once for all the pairs of the caller's account."""
        if _failed(self._caller_keys):
            self._caller_keys = self._started(self._resolve_caller(), "credentials")
        assert self._caller_keys is not None
        return await asyncio.shield(self._caller_keys)

    async def _resolve_caller(self) -> Any:
        session = await self._shared_session()
        return await session.get_credentials()

    def warm(self, region: str) -> None:
        """Start opening the Region's STS client now (an AssumeRole there is coming)."""
        self._opening(region)

    async def _client(self, region: str) -> Any:
        # Shielded: a cancelled caller leaves the open to the others waiting for it.
        return await asyncio.shield(self._opening(region))

    async def _open(self, region: str) -> Any:
        session = await self._shared_session()
        client = await self._stack.enter_async_context(
            session.create_client(
                "sts", region_name=region, endpoint_url=self._endpoint_url, config=self._config
            )
        )
        if not self._watching:
            watch()  # botocore's DEBUG lines of these requests are redacted
            self._watching = True
        return client

    def learn_caller(self, region: str) -> asyncio.Task[str]:
        """The caller's account being learnt: GetCallerIdentity in ``region``, once for all
        (again after a failure), started now."""
        if _failed(self._caller):
            self._caller = self._started(self._ask_caller(region), "caller")
        assert self._caller is not None
        return self._caller

    async def caller_account(self, region: str) -> str:
        """The account of the default credentials (asked once, see ``learn_caller``)."""
        return await asyncio.shield(self.learn_caller(region))

    async def _ask_caller(self, region: str) -> str:
        # GetCallerIdentity needs no permission.
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
        """A credential provider of ``role_arn``, assumed through STS in ``region``; the
        first AssumeRole starts now."""
        fetch = partial(self._assume, role_arn, region)
        return RoleProvider(fetch, self._started(fetch(), f"assume-{region}"))

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
        """End the work started ahead, then close every STS client."""
        self._clients.clear()
        self._session = self._caller_keys = self._caller = None
        ahead = list(self._ahead)
        for task in ahead:
            task.cancel()
        try:
            if ahead:
                await asyncio.wait(ahead)
            await self._stack.aclose()
        finally:
            if self._watching:
                self._watching = False
                unwatch()


class RoleProvider:
    """botocore's credential provider interface (``load_credentials``) for one role."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        first: asyncio.Task[dict[str, Any]],
    ) -> None:
        self._fetch = fetch
        self._first: asyncio.Task[dict[str, Any]] | None = first

    async def _refresh(self) -> dict[str, Any]:
        # The first refresh takes the AssumeRole started ahead; later ones (a failed first,
        # an expiry) assume the role again.
        first, self._first = self._first, None
        if first is not None:
            return await asyncio.shield(first)
        return await self._fetch()

    async def load_credentials(self) -> Any:
        """Refreshable credentials, ready when the first request signs."""
        return AioDeferredRefreshableCredentials(refresh_using=self._refresh, method=_METHOD)


class PairCredentials:
    """The credential provider of a pair whose way in depends on the caller's account.

    botocore asks for credentials as the pair's client is created: this provider then awaits
    ``caller()`` (the caller's account, GetCallerIdentity once for all pairs), so everything
    before that point of the open runs while STS answers. The caller's own account gets the
    caller's credentials (the default chain's, refreshable ones included, resolved once for
    every pair); another account those of ``way_in()`` (a role's, or a ValidationError).
    """

    def __init__(
        self,
        sts: Sts,
        caller: Callable[[], Awaitable[str]],
        way_in: Callable[[], RoleProvider],
        *,
        account: str,
    ) -> None:
        self._sts = sts
        self._caller = caller
        self._way_in = way_in
        self._account = account

    async def load_credentials(self) -> Any:
        """The pair's credentials (None: the default chain found none, as botocore's)."""
        if await self._caller() != self._account:
            return await self._way_in().load_credentials()
        return await self._sts.caller_credentials()


def _failed(task: asyncio.Task[Any] | None) -> bool:
    """Whether the shared work is to be started (again): never started, or failed."""
    return task is None or (task.done() and (task.cancelled() or task.exception() is not None))


def _settled(tasks: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    """A done-callback: forget the task, its error retrieved (it was handed to any waiter)."""

    def forget(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()

    return forget

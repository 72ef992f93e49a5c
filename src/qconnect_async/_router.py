"""QConnectRouter: the client's methods over many accounts and Regions, routed by KB ARN.

A KB ARN names its Region and account; the router keeps a ``QConnectClient`` per (account,
Region) (``_pool``) and one send rate per pair (the quota is per account and Region). Another
account is reached with ``session_for(account)`` or by assuming ``role_name`` (``_sts``).
Listings over several pairs keep each pair busy at its own rate (``_spread``). Each client is
opened knowing its pair, so its errors are built naming ``account_id`` and ``region``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from . import _checks as check
from ._checks import KnowledgeBaseRef
from ._client import QConnectClient
from ._errors import ValidationError
from ._fanout import ListingDone
from ._jobmethods import Priority
from ._listing import Listing
from ._pool import ClientPool, Place
from ._ratelimit import AdaptiveRateLimiter, RateLimiter
from ._retry import RetryPolicy
from ._routercalls import RouterJobMethods, Where
from ._spread import Job, expired, spread, spread_options
from ._sts import PairCredentials, RoleProvider, Sts, role_arn
from ._transport import TransportOptions, default_region
from .models import ImportJob, ImportJobPage, KnowledgeBaseType

__all__ = ["QConnectRouter"]

#: session_for(account_id): the aiobotocore session reaching that account, or None.
SessionFor = Callable[[str], Any]
#: rate_limiter_for(account_id, region): the pair's RateLimiter, or None for the default.
LimiterFor = Callable[[str, str], RateLimiter[Any] | None]


class QConnectRouter(RouterJobMethods):
    """The import jobs of knowledge bases in many accounts and Regions, behind one object.

    Used like a client: the client's methods, with its keyword parameters, taking knowledge
    base ARNs of any account and Region (a bare ID means ``account_id`` / the caller's
    account, in ``region_name``, else the AWS settings' Region). ``max_concurrency`` bounds
    the requests in flight of all pairs together, ``max_concurrency_per_client`` each
    pair's; ``max_clients`` the clients kept open (least recently used closed first).
    """

    def __init__(
        self,
        *,
        region_name: str | None = None,
        account_id: str | None = None,
        endpoint_url: str | None = None,
        session_for: SessionFor | None = None,
        role_name: str | None = None,
        rate_limiter_for: LimiterFor | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 64,
        max_concurrency_per_client: int = 8,
        max_clients: int = 100,
        sts_endpoint_url: str | None = None,
        profile_name: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
    ) -> None:
        self._region = None if region_name is None else check.region(region_name)
        self._region_read = False  # the AWS settings' Region, read on first need
        self._account = None if account_id is None else check.account_id(account_id)
        self._endpoint_url = endpoint_url
        self._profile = profile_name
        self._session_for = session_for
        self._role_name = None if role_name is None else check.short_string("role_name", role_name)
        self._limiter_for = rate_limiter_for
        self._retry = retry if retry is not None else RetryPolicy()
        self._max_concurrency = check.at_least_one("max_concurrency", max_concurrency)
        self._per_client = check.at_least_one(
            "max_concurrency_per_client", max_concurrency_per_client
        )
        self._timeouts = (
            check.seconds("connect_timeout", connect_timeout),
            check.seconds("read_timeout", read_timeout),
        )
        self._pool = ClientPool(
            self._open_client, max_clients=check.at_least_one("max_clients", max_clients)
        )
        self._sts = Sts(
            endpoint_url=sts_endpoint_url,
            profile_name=profile_name,
            connect_timeout=self._timeouts[0],
            read_timeout=self._timeouts[1],
        )
        self._limiters: dict[Place, RateLimiter[Any]] = {}
        self._slots = asyncio.Semaphore(self._max_concurrency)

    # -- life -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._region is None and not self._region_read:
            # The settings' Region reads config files: off the loop, as a client's open does.
            # A bad profile is left for the first bare ID to report, as without `async with`.
            with contextlib.suppress(ValidationError):
                self._region = await asyncio.to_thread(self._settings_region)
                self._region_read = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every client (requests in flight end at once) and the STS clients."""
        try:
            await self._pool.close()
        finally:
            await self._sts.close()

    @property
    def open_places(self) -> list[tuple[str, str]]:
        """The (account, Region) pairs with a client open now, least recently used first."""
        return self._pool.places

    def rate_limiter(self, account_id: str, region: str) -> RateLimiter[Any]:
        """The send-rate limiter of a pair (made now if the pair was not used yet)."""
        place = (check.account_id(account_id), check.region(region))
        limiter = self._limiters.get(place)
        if limiter is None:
            given = None if self._limiter_for is None else self._limiter_for(*place)
            if given is not None and not isinstance(given, RateLimiter):
                raise ValidationError(
                    f"rate_limiter_for returned {given!r}, not a RateLimiter",
                    account_id=place[0],
                    region=place[1],
                )
            limiter = self._limiters[place] = AdaptiveRateLimiter() if given is None else given
        return limiter

    # -- routing --------------------------------------------------------------------------------

    def _default_region(self) -> str | None:
        """``region_name``, else the AWS settings' Region (of ``profile_name``), as a
        client's; read once, as the router is entered (else on first need)."""
        if self._region is None and not self._region_read:
            self._region_read = True
            self._region = self._settings_region()
        return self._region

    def _settings_region(self) -> str | None:
        """The AWS settings' Region of ``profile_name`` (config files, environment), checked."""
        found = default_region(self._profile)
        return None if found is None else check.region(found)

    def _where(self, ref: KnowledgeBaseRef) -> Where:
        """The pair of a KB reference (account None: the default one, learnt on use)."""
        if ref.arn is not None and ref.account is not None and ref.region:
            return ref.account, ref.region
        region = self._default_region()
        if region is None:
            raise ValidationError(
                "a bare knowledge base ID needs a Region: the router's region_name, "
                "AWS_DEFAULT_REGION or the profile's (or give its ARN)",
                knowledge_base_id=ref.id,
            )
        return self._account, region

    async def _caller_account(self, region: str) -> str:
        if self._account is not None:
            return self._account
        return await self._sts.caller_account(region)

    async def _open_client(self, place: Place) -> QConnectClient:
        account, region = place
        session: Any = None
        provider: PairCredentials | RoleProvider | None = None
        if self._role_name is not None and account != self._account:
            # A role may be assumed here: its Region's STS client opens alongside.
            self._sts.warm(region)
        if self._account is None and self._session_for is None:
            # Which credentials depends on the caller's account: decided when the client asks
            # for them as it opens, so the open runs while GetCallerIdentity is answered.
            self._sts.learn_caller(region)
            await self._sts.ready()  # GetCallerIdentity's session first: it is on the way
            provider = PairCredentials(
                self._sts,
                functools.partial(self._caller_account, region),
                functools.partial(self._way_in, account, region),
                account=account,
            )
        elif account != await self._caller_account(region):
            session = None if self._session_for is None else self._session_for(account)
            if session is None:
                provider = self._way_in(account, region)
        options = TransportOptions(
            region_name=region,
            endpoint_url=self._endpoint_url,
            profile_name=self._profile,
            connect_timeout=self._timeouts[0],
            read_timeout=self._timeouts[1],
            max_pool_connections=max(10, self._per_client),
            credential_provider=provider,
            account_id=account,
        )
        client = QConnectClient._with_options(
            options,
            session=session,
            max_concurrency=self._per_client,
            retry=self._retry,
            rate_limiter=self.rate_limiter(account, region),
        )
        return await client.open()

    def _way_in(self, account: str, region: str) -> RoleProvider:
        """How to reach an account that is not the caller's, without a session of its own."""
        if self._role_name is None:
            raise ValidationError(
                f"account {account} is not the caller's: give role_name or session_for",
                account_id=account,
                region=region,
            )
        return self._sts.role_provider(role_arn(self._role_name, account, region), region)

    @contextlib.asynccontextmanager
    async def _on(self, where: Where) -> AsyncIterator[QConnectClient]:
        """The pair's client, in use (a bare ID's pair: the caller's account, learnt once)."""
        account, region = where
        if account is None:
            account = await self._caller_account(region)
        async with self._pool.use((account, region)) as client:
            yield client

    # -- listings -------------------------------------------------------------------------------

    def list_import_jobs(
        self,
        knowledge_base_id: str,
        *,
        page_size: int | None = None,
        starting_token: str | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        max_rate_wait: float | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of one knowledge base (an ARN of any pair), as the client's."""
        ref = check.knowledge_base_ref(knowledge_base_id)
        where = self._where(ref)
        return Listing(
            functools.partial(
                self._kb_pages,
                where,
                ref,
                check.page_size(page_size),
                check.deadline(deadline),
                priority=_checked(priority, "interactive"),
                max_rate_wait=check.rate_wait(max_rate_wait),
            ),
            starting_token=check.token(starting_token),
            name=f"import jobs of {ref.arn or ref.id}",
        )

    async def _kb_pages(
        self,
        where: Where,
        ref: KnowledgeBaseRef,
        page_size: int,
        deadline: float | None,
        starting_token: str | None,
        *,
        priority: Priority | None,
        max_rate_wait: float | None = None,
    ) -> AsyncGenerator[ImportJobPage, None]:
        """A KB's pages on its pair's client; each page fetch holds one router slot. The
        fan-outs' pages are bulk work at the client's slots and send rate, as the client's own."""
        async with self._on(where) as client:
            listing = client.list_import_jobs(
                ref.id,
                page_size=page_size,
                starting_token=starting_token,
                deadline=deadline,
                priority=priority,
                max_rate_wait=max_rate_wait,
            )
            async with contextlib.aclosing(listing.pages()) as pages:
                while True:
                    async with self._slots:
                        try:
                            page = await anext(pages)
                        except StopAsyncIteration:
                            return
                    yield page

    def list_import_jobs_many(
        self,
        knowledge_base_ids: Iterable[str],
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of knowledge bases of any pairs, listed at once and merged.

        Duplicates are listed once. Each pair lists at most ``max_concurrency`` KBs at once
        (default: ``max_concurrency_per_client``) and reads at most that many pages ahead, at
        its own send rate: a slow or throttled pair holds back no other. ``fail_fast`` and
        ``on_listing_done``, ``deadline`` (all pairs together) and ``priority`` (default
        "bulk") as the client's.
        """
        if isinstance(knowledge_base_ids, str):
            raise ValidationError("knowledge_base_ids must be a collection of ARNs, not one string")
        groups: dict[Where, dict[str, KnowledgeBaseRef]] = {}
        for value in knowledge_base_ids:
            ref = check.knowledge_base_ref(value)
            groups.setdefault(self._where(ref), {}).setdefault(ref.id, ref)
        options = spread_options(
            page_size, max_concurrency, self._per_client, fail_fast, deadline, on_listing_done
        )
        bulk = _checked(priority, "bulk")

        async def pages(starting_token: str | None) -> AsyncGenerator[ImportJobPage, None]:
            listed = {where: list(refs.values()) for where, refs in groups.items()}
            async with contextlib.aclosing(self._spread(listed, bulk, *options)) as merged:
                async for page in merged:
                    yield page

        count = sum(map(len, groups.values()))
        return Listing(pages, resumable=False, name=f"import jobs of {count} knowledge bases")

    def list_all_import_jobs(
        self,
        *,
        regions: Iterable[str] | None = None,
        accounts: Iterable[str] | None = None,
        knowledge_base_types: Iterable[str] | None = (KnowledgeBaseType.QUICK_RESPONSES,),
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        page_size: int | None = None,
        on_listing_done: ListingDone | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Listing[ImportJob]:
        """The import jobs of every knowledge base (of ``knowledge_base_types``) of every
        account and Region asked for (default: the router's), listed as ``_many`` does.

        Router-only: ``regions`` and ``accounts``; the other parameters as the client's
        (``deadline`` counts the listings of the KBs too).
        """
        default = self._default_region() if regions is None else None
        region_list = (
            ([] if default is None else [default])
            if regions is None
            else [check.region(r) for r in regions]
        )
        if not region_list:
            raise ValidationError("list_all_import_jobs needs regions= or the router's region_name")
        account_list: list[str | None] = (
            [self._account] if accounts is None else [check.account_id(a) for a in accounts]
        )
        types = check.knowledge_base_types(knowledge_base_types)
        options = spread_options(
            page_size, max_concurrency, self._per_client, fail_fast, deadline, on_listing_done
        )
        bulk = _checked(priority, "bulk")
        places = [(a, r) for a in dict.fromkeys(account_list) for r in dict.fromkeys(region_list)]

        async def pages(starting_token: str | None) -> AsyncGenerator[ImportJobPage, None]:
            async with asyncio.TaskGroup() as group:
                found = [group.create_task(self._kbs(where, types, bulk)) for where in places]
            listed = {where: task.result() for where, task in zip(places, found, strict=True)}
            async with contextlib.aclosing(self._spread(listed, bulk, *options)) as merged:
                async for page in merged:
                    yield page

        return Listing(
            pages, resumable=False, name=f"import jobs of every knowledge base of {len(places)}"
        )

    async def _kbs(
        self, where: Any, types: frozenset[str] | None, priority: Priority
    ) -> list[KnowledgeBaseRef]:
        """The knowledge bases of a pair, of the types asked for."""
        async with self._on(where) as client, self._slots:
            return [
                KnowledgeBaseRef(kb.knowledge_base_id)
                async for kb in client.list_knowledge_bases(priority=priority)
                if types is None or str(kb.knowledge_base_type) in types
            ]

    async def _spread(
        self,
        groups: Mapping[Where, list[KnowledgeBaseRef]],
        priority: Priority,
        page_size: int,
        width: int,
        fail_fast: bool,
        deadline: float | None,
        on_done: ListingDone | None = None,
    ) -> AsyncGenerator[ImportJobPage, None]:
        """The pages of every KB of every pair, each pair a lane of its own."""
        loop = asyncio.get_running_loop()
        after = deadline if deadline is not None else self._retry.deadline
        ends_at = None if after is None else loop.time() + after

        def job(where: Where, ref: KnowledgeBaseRef) -> Job[ImportJobPage]:
            def open_pages() -> AsyncGenerator[ImportJobPage, None]:
                left = None if ends_at is None else ends_at - loop.time()
                if left is not None and left <= 0:
                    return expired(ref.id, account_id=where[0], region=where[1])
                return self._kb_pages(where, ref, page_size, left, None, priority=priority)

            return (ref.id, open_pages)

        lanes = [[job(where, ref) for ref in refs] for where, refs in groups.items()]
        async with contextlib.aclosing(
            spread(lanes, width=width, fail_fast=fail_fast, on_done=on_done)
        ) as pages:
            async for page in pages:
                yield page

    def __repr__(self) -> str:
        return (
            f"<QConnectRouter clients={len(self._pool.places)} "
            f"max_concurrency={self._max_concurrency}>"
        )


def _checked(priority: object, default: Priority) -> Priority:
    """A priority, checked now (``default`` for None), to give the pair's client."""
    check.priority(priority, 0)
    return default if priority is None else "interactive" if priority == "interactive" else "bulk"

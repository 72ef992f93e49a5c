"""RedisLimiters: a RedisRateLimiter per (account, Region), its key derived, one Redis pool.

The service's quota is per account and Region, so a fleet that reaches many pairs needs one
shared rate per pair: a key typed by hand per pair can silently merge two quotas or split one.
``RedisLimiters`` is a QConnectRouter's ``rate_limiter_for``: it makes each pair's limiter on
first use, keyed ``{prefix}:{account}:{region}``, all on one Redis connection pool.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import redis.asyncio as aioredis

from .._checks import account_id, region
from .._errors import ValidationError
from ._limiter import RedisRateLimiter

__all__ = ["RedisLimiters"]


class RedisLimiters:
    """``rate_limiter_for(account, region)`` over Redis: one ``RedisRateLimiter`` per pair.

    Give the Redis ``url`` (a pool is made, closed with this object) or an application's
    ``client`` (never closed here). ``prefix`` starts every key; the other keyword options
    are ``RedisRateLimiter``'s, the same for every pair. Close it after the router
    (``async with``, or ``aclose()``): it closes every limiter it made.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | aioredis.RedisCluster | None = None,
        prefix: str = "qconnect-async",
        timeout: float = 0.05,
        **options: Any,
    ) -> None:
        if (url is None) == (client is None):
            raise ValidationError("give the Redis url or a client, one of them")
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValidationError(f"prefix must be non-empty, without braces, not {prefix!r}")
        self._owned = client is None
        self._client = (
            aioredis.Redis.from_url(
                url or "",
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=None,  # one attempt: a retry under our timeout would only delay fallback
                retry_on_error=[],
            )
            if client is None
            else client
        )
        self._prefix = prefix
        self._options = {"timeout": timeout, **options}
        self._limiters: dict[tuple[str, str], RedisRateLimiter] = {}
        self._closed = False

    def key(self, account: str, region_name: str) -> str:
        """The Redis key of a pair's shared rate."""
        return f"{self._prefix}:{account_id(account)}:{region(region_name)}"

    def __call__(self, account: str, region_name: str) -> RedisRateLimiter:
        """The limiter of a pair, made on first use."""
        if self._closed:
            raise RuntimeError("these RedisLimiters are closed")
        pair = (account, region_name)
        limiter = self._limiters.get(pair)
        if limiter is None:
            limiter = RedisRateLimiter.from_client(
                self._client, key=self.key(account, region_name), **self._options
            )
            self._limiters[pair] = limiter
        return limiter

    async def aclose(self) -> None:
        """Close every limiter made, then the pool if it was made here; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            for limiter in self._limiters.values():
                await limiter.aclose()
        finally:
            if self._owned:
                await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

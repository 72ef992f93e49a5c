"""RateLimiters that record what the library asked of them (shared by the tests of the
import waits and of waiting for many jobs)."""

from __future__ import annotations

import asyncio
import math

from qconnect_async import SendOutcome


class AskedLimiter:
    """A RateLimiter that lets every send go at once and notes when each asked and ended."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.ended: list[float] = []

    async def acquire(self) -> None:
        self.asked.append(asyncio.get_running_loop().time())

    def release(self, permit: None, outcome: SendOutcome) -> None:
        self.ended.append(asyncio.get_running_loop().time())

    @property
    def rate(self) -> float:
        return math.inf

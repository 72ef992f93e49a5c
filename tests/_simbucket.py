"""A simulated service that throttles as AWS does (a token bucket), and a client listing it.

Shared by the send rate's fake-clock tests (tests/test_ratelimit.py, tests/test_ratelong.py):
``Service`` admits ``rate`` requests per second with a burst and counts what it saw, on the
running loop's clock; ``list_kbs`` lists KBs page by page through a ``Sender`` with the
default retry policy, as ``list_import_jobs_many`` does; ``listing`` is the long rows' one
listing (also scripts/rate_sweep.py's).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from qconnect_async import AdaptiveRateLimiter, RateController
from qconnect_async._call import Call
from qconnect_async._errors import ThrottlingError
from qconnect_async._retry import RetryPolicy
from qconnect_async._send import Sender

__all__ = ["Service", "list_kbs", "listing", "now"]


def now() -> float:
    """The running loop's clock (fake in tests marked ``fake_clock``)."""
    return asyncio.get_running_loop().time()


@dataclass
class Service:
    """Admits ``rate`` requests per second with a burst of ``burst`` (rate None: no limit)."""

    rate: float | None
    burst: float = 5.0
    tokens: float = 5.0
    at: float = 0.0
    requests: int = 0
    throttled: int = 0
    accepted: dict[str, int] = field(default_factory=dict)
    #: when each throttle was answered, on the loop's clock
    throttled_at: list[float] = field(default_factory=list)

    def admit(self, who: str) -> bool:
        """One request of ``who``: True if let in, False if throttled."""
        t = now()
        self.requests += 1
        if self.rate is not None:
            self.tokens = min(self.burst, self.tokens + (t - self.at) * self.rate)
            self.at = t
            if self.tokens < 1:
                self.throttled += 1
                self.throttled_at.append(t)
                return False
            self.tokens -= 1
        self.accepted[who] = self.accepted.get(who, 0) + 1
        return True

    @property
    def throttled_share(self) -> float:
        """Throttles over requests."""
        return self.throttled / self.requests


async def list_kbs(
    service: Service,
    who: str,
    limiter: AdaptiveRateLimiter | RateController,
    *,
    kbs: int,
    pages: int,
    width: int,
    rng: random.Random,
    latency: float = 0.02,
) -> float:
    """One client lists ``kbs`` KBs of ``pages`` pages, ``width`` at once; its wall time.

    ``limiter``: the client's limiter, or a controller for a fresh ``AdaptiveRateLimiter``.
    Each round trip is ``latency`` within 25%; a refusal comes back faster than a page.
    """
    if isinstance(limiter, RateController):
        limiter = AdaptiveRateLimiter(controller=limiter)
    sender = Sender(
        policy=RetryPolicy(),
        limiter=limiter,
        max_concurrency=width,
        sleep=asyncio.sleep,
        rand=rng.random,
    )

    async def attempt() -> None:
        rtt = latency * (0.75 + rng.random() / 2)
        await asyncio.sleep(rtt / 2)
        if service.admit(who):
            await asyncio.sleep(rtt / 2)
        else:
            await asyncio.sleep(rtt / 10)
            raise ThrottlingError("Rate exceeded", http_status=400)

    listings = asyncio.Semaphore(width)

    async def list_kb() -> None:
        async with listings:
            for _ in range(pages):
                await sender.send(Call("ListImportJobs"), attempt)

    start = now()
    await asyncio.gather(*(list_kb() for _ in range(kbs)))
    return now() - start


async def listing(
    quota: float, latency: float, seed: int, *, probe_requests: float = 40.0, seconds: float = 60.0
) -> tuple[Service, float]:
    """``seconds`` of pages at ``quota`` (20 KBs, 16 at once, burst 5) through a fresh
    ``RateController(probe_requests=...)``: the service (what it counted), the wall / ideal."""
    service = Service(rate=quota)
    pages = int(seconds * quota) // 20
    wall = await list_kbs(
        service,
        "c",
        RateController(probe_requests=probe_requests),
        kbs=20,
        pages=pages,
        width=16,
        rng=random.Random(seed),
        latency=latency,
    )
    return service, wall / ((20 * pages - 5) / quota)

"""RedisRateLimiter: the fleet's shared schedule and controller, with its local fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

try:
    import redis.asyncio as aioredis
    from redis.exceptions import NoScriptError
except ImportError as error:  # pragma: no cover - exercised in a fresh environment only
    raise ImportError(
        "qconnect_async.redis needs redis-py: pip install 'qconnect-async[redis]'"
    ) from error

from .._call import INTERACTIVE
from .._checks import at_least_one, seconds
from .._errors import ValidationError
from .._line import PrioritySlots
from .._ratecontrol import RateController
from .._ratelimit import AdaptiveRateLimiter, SendOutcome
from ._cuts import FAILURES, CutNotices
from ._script import SCRIPT, SHA, Decision, fleet_controller, fresh, script_constants

__all__ = ["RedisPermit", "RedisRateLimiter"]

logger = logging.getLogger("qconnect_async")

#: Seconds entering the limiter may take to connect and load the script (once, at start).
_PREPARE_TIMEOUT = 1.0
#: ARGV[24]: only report outcomes; book a send; book again a send whose booking a cut voided.
_REPORT, _BOOK, _REBOOK = "0", "1", "2"

_FAILURES = FAILURES


@dataclass(frozen=True, slots=True)
class RedisPermit:
    """What ``acquire`` returns: the send's decision time on each clock."""

    server_sent_at: float | None  # the Redis server's clock; None: decided in-process
    local_sent_at: float  # the event loop's clock


class RedisRateLimiter:
    """A ``RateLimiter`` whose rate and controller live in Redis, shared by a fleet.

    ``url`` is a redis-py URL (``redis://host:6379/0``, ``rediss://...``); ``key`` names the
    shared state (one per account and Region). ``controller`` gives the constants of the shared
    controller (``fleet_controller()`` by default; its state is ignored). ``burst``,
    ``start_rate`` and ``start_doubling`` shape the schedule and a new key's slow start;
    ``horizon`` and ``ahead`` bound the bookings made ahead. ``timeout``
    bounds every call to Redis (connect included); ``probe_interval`` spaces the attempts to
    rejoin; ``ttl`` is how long unused state is kept. One object may be shared by several
    clients of one event loop. Close it (``async with`` or ``aclose()``) to end its tasks and
    the connection pool it created.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        key: str = "qconnect-async",
        controller: RateController | None = None,
        burst: float = 4.0,
        start_rate: float = 10.0,
        start_doubling: float = 0.25,
        horizon: float = 1.0,
        ahead: int = 1,
        timeout: float = 0.05,
        probe_interval: float = 0.25,
        ttl: float = 3600.0,
    ) -> None:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One attempt: a retry under our timeout would only delay the fallback.
            retry=None,
            retry_on_error=[],
        )
        self._setup(client, True, key, controller, burst, start_rate, start_doubling, horizon)
        self._ahead = at_least_one("ahead", ahead)
        self._configure(timeout, probe_interval, ttl)

    @classmethod
    def from_client(
        cls,
        client: aioredis.Redis | aioredis.RedisCluster,
        *,
        key: str = "qconnect-async",
        controller: RateController | None = None,
        burst: float = 4.0,
        start_rate: float = 10.0,
        start_doubling: float = 0.25,
        horizon: float = 1.0,
        ahead: int = 1,
        timeout: float = 0.05,
        probe_interval: float = 0.25,
        ttl: float = 3600.0,
    ) -> Self:
        """Share an application's ``redis.asyncio.Redis`` (or ``RedisCluster``); never closed here.

        ``timeout`` still bounds every call (an ``asyncio.timeout`` around it), whatever the
        client's own socket timeouts are.
        """
        self = cls.__new__(cls)
        self._setup(client, False, key, controller, burst, start_rate, start_doubling, horizon)
        self._ahead = at_least_one("ahead", ahead)
        self._configure(timeout, probe_interval, ttl)
        return self

    def _setup(
        self,
        client: aioredis.Redis | aioredis.RedisCluster,
        owned: bool,
        key: str,
        controller: RateController | None,
        burst: float,
        start_rate: float,
        start_doubling: float,
        horizon: float,
    ) -> None:
        if not key:
            raise ValidationError("key must not be empty")
        if seconds("burst", burst, unit="sends") < 1:
            raise ValidationError(f"burst must be at least 1 (one send), not {burst!r}")
        seconds("start_rate", start_rate, unit="sends per second")
        seconds("start_doubling", start_doubling)
        seconds("horizon", horizon)
        constants = controller if controller is not None else fleet_controller()
        self._client = client
        self._owned = owned
        self.key = key
        # One hash; the {tag} puts every key of this limiter in one Redis Cluster slot.
        self._hash = f"{{{key}}}:rate"
        self._args = script_constants(constants, burst, start_rate, start_doubling, horizon)
        # Where the script publishes a cut; in the {tag}'s slot (sharded pub/sub needs it).
        self._channel = f"{{{key}}}:cuts"
        # The in-process pacing while Redis is away: the default in-process limiter, with
        # the same constants. Its controller hears every outcome of this member (the shared
        # sends' too), so that a fallback paces from what this member saw, not from nothing.
        self._local = AdaptiveRateLimiter(burst=burst, controller=fresh(constants))

    def _configure(self, timeout: float, probe_interval: float, ttl: float) -> None:
        for name, value in (("timeout", timeout), ("probe_interval", probe_interval), ("ttl", ttl)):
            seconds(name, value)
        self._timeout = timeout
        self._probe_interval = probe_interval
        self._ttl_ms = str(max(1, round(ttl * 1000)))
        self._shared = True
        self._warned = False
        self._closed = False
        self._probe_at = -math.inf
        self._rate = math.inf
        # Outcomes not yet told to Redis.
        self._accepted = 0
        self._throttles: list[float] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._flushing = False
        self._booking = PrioritySlots(self._ahead)
        # The fleet's cuts as heard (pub/sub): they wake the booked sends to book again.
        self._cuts = CutNotices(self._client, self._channel, timeout, probe_interval)

    # -- the RateLimiter protocol --

    @property
    def rate(self) -> float:
        """The fleet's rate at the last decision (this member's own while Redis is away)."""
        if self._shared:
            return self._rate
        return self._local.rate

    @property
    def shared(self) -> bool:
        """Whether sends are paced by the fleet's shared rate right now (False: fallen back)."""
        return self._shared

    async def acquire(self, *, priority: int = INTERACTIVE) -> RedisPermit:
        """Reserve a send slot (one round trip), sleep until it; return the permit.

        ``priority`` orders this member's own waiters (interactive first, as the client's
        slots): the fleet's schedule in Redis is first come, first served.
        """
        if self._closed:
            raise RuntimeError("this RedisRateLimiter is closed")
        # `ahead` bookings per member at a time: the fleet's queue is members x `ahead` deep,
        # and a cut (heard by the cut notices) voids the bookings made before it.
        self._cuts.start()
        await self._booking.acquire(priority)
        try:
            return await self._book(priority)
        finally:
            self._booking.release()

    async def _book(self, priority: int) -> RedisPermit:
        voided = False  # a cut voided this send's booking: the next is no new send
        while True:
            permit: RedisPermit | None
            if self._shared:
                permit, voided = await self._shared_slot(voided)
            else:
                self._maybe_probe()
                permit = RedisPermit(None, await self._local.acquire(priority=priority))
            if permit is not None:
                return permit
            if self._closed:
                raise RuntimeError("this RedisRateLimiter is closed")

    async def _shared_slot(self, rebook: bool) -> tuple[RedisPermit | None, bool]:
        """One booking on the fleet's schedule, then its wait.

        Returns the permit, or None (ask again) and whether a cut voided a booking.
        """
        accepted, throttles = self._take()
        try:
            decision = await self._call(_REBOOK if rebook else _BOOK, accepted, throttles)
        except _FAILURES as error:
            self._fall_back(error)
            return None, False
        self._rate = decision.rate
        local_now = _now()
        if decision.cut:
            self._cuts.heard(decision.now)
        if not decision.granted:
            await asyncio.sleep(decision.wait)
            return None, rebook
        if not await self._cuts.until_slot(decision, local_now):
            return None, True  # a cut voided the booking: book again at the new rate
        return RedisPermit(decision.now, local_now), False

    def release(self, permit: RedisPermit, outcome: SendOutcome) -> None:
        """Tell the outcome: to the local pacing at once, to Redis with the next call."""
        if permit.server_sent_at is None:  # paced in-process: its limiter takes it back
            self._local.release(permit.local_sent_at, outcome)
        if outcome is SendOutcome.ABANDONED:
            return
        throttled = outcome is SendOutcome.THROTTLED
        if permit.server_sent_at is not None:  # a shared send: the local controller hears it
            control, now = self._local.controller, _now()
            if throttled:
                control.on_throttle(now, permit.local_sent_at)
            else:
                control.on_accepted(now)
        if not self._shared or self._closed:
            return
        if not throttled:
            self._accepted += 1
            return
        # A send decided in-process has no time on the server's clock: it counts as sent
        # before any cut there (it starts an event only if the fleet is not paced yet).
        sent_at = permit.server_sent_at if permit.server_sent_at is not None else -1.0
        self._throttles.append(sent_at)
        if not self._flushing:
            self._flushing = True
            self._spawn(self._flush())

    # -- lifecycle --

    async def aclose(self) -> None:
        """Tell Redis what is left to tell, end the limiter's tasks, close an owned pool."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await self._cuts.aclose()
        if tasks:
            await asyncio.wait(tasks)
        if self._shared and (self._accepted or self._throttles):
            accepted, throttles = self._take()
            with contextlib.suppress(*_FAILURES):
                await self._call(_REPORT, accepted, throttles)
        if self._owned:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        """Connect, load the script and start listening for cuts, before the first send.

        A fleet's members usually start together, when their hosts are busiest: a first
        send that also had to connect and load the script could miss the timeout and leave
        unpaced. Redis away here is no error: the first send falls back as usual.
        """
        self._cuts.start()
        try:
            async with asyncio.timeout(max(self._timeout, _PREPARE_TIMEOUT)):
                await self._client.script_load(SCRIPT)
        except _FAILURES as error:
            logger.debug("Redis not ready at start (%s: %s)", type(error).__name__, error)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- Redis --

    async def _call(self, ask: str, accepted: int, throttles: list[float]) -> Decision:
        """One decision in Redis, within the timeout; a flushed script is loaded again."""
        args: list[Any] = [
            "",
            *self._args,
            self._ttl_ms,
            self._channel,
            ask,
            str(accepted),
            *(repr(t) for t in throttles),
        ]
        async with asyncio.timeout(self._timeout):
            try:
                answer = await self._client.evalsha(SHA, 1, self._hash, *args)
            except NoScriptError:
                await self._client.script_load(SCRIPT)
                answer = await self._client.evalsha(SHA, 1, self._hash, *args)
        now, wait, rate, cut, granted = (_text(value) for value in answer)
        return Decision(float(now), float(wait), float(rate), cut == "1", granted == "1")

    def _take(self) -> tuple[int, list[float]]:
        accepted, throttles = self._accepted, self._throttles
        self._accepted, self._throttles = 0, []
        return accepted, throttles

    async def _flush(self) -> None:
        """Send the batched throttles (and acceptances) now, until none is left."""
        try:
            while self._shared and self._throttles:
                accepted, throttles = self._take()
                try:
                    decision = await self._call(_REPORT, accepted, throttles)
                except _FAILURES as error:
                    self._fall_back(error)
                else:
                    self._rate = decision.rate
                    if decision.cut:  # this member's throttle cut: no need to hear it back
                        self._cuts.heard(decision.now)
        finally:
            self._flushing = False

    def _fall_back(self, error: BaseException) -> None:
        if not self._shared:
            return
        self._shared = False
        self._accepted, self._throttles = 0, []
        now = _now()
        self._probe_at = now + self._probe_interval
        if math.isfinite(self._rate):
            # The fleet was pacing: go on at this member's share of it (what it was accepted
            # lately), not unpaced because this member itself was never throttled.
            local = self._local.controller
            local.pace_at(now, min(self._rate, local.accepted_rate(now)))
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self._warned:
            logger.debug("Redis is away (%s); pacing in-process (key=%s)", reason, self.key)
            return
        self._warned = True
        logger.warning(
            "Redis is away (%s); pacing in-process until it answers again (key=%s); "
            "later fallbacks are logged at DEBUG",
            reason,
            self.key,
        )

    def _maybe_probe(self) -> None:
        if self._closed or _now() < self._probe_at:
            return
        # One probe at a time: the next one is due only once this one failed.
        self._probe_at = math.inf
        self._spawn(self._probe())

    async def _probe(self) -> None:
        """Try one decision (no send); on an answer, the fleet's rate paces again."""
        try:
            decision = await self._call(_REPORT, 0, [])
        except _FAILURES as error:
            logger.debug("Redis still away (%s: %s)", type(error).__name__, error)
            self._probe_at = _now() + self._probe_interval
            return
        self._rate = decision.rate
        self._shared = True
        logger.debug("Redis answers again; the fleet's rate paces (key=%s)", self.key)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _now() -> float:
    return asyncio.get_running_loop().time()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

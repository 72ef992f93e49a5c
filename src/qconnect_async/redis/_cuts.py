"""CutNotices: the fleet's cuts as one member hears them (Redis pub/sub), and the waits they end.

The script starts the fleet's schedule again at every cut, at the new rate, and publishes the
cut on the key's channel: a member sleeping until a slot booked before it books again at once,
so the bookings made at the old rate do not leave at it into a service already throttling.
Best effort: without the notices pacing is the same, only slower to follow a cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any, Protocol, cast

from redis.exceptions import RedisError

from ._script import Decision

__all__ = ["FAILURES", "CutNotices"]

logger = logging.getLogger("qconnect_async")

#: What a failed call to Redis looks like: its errors, our timeout, a refused connection.
FAILURES = (RedisError, OSError, TimeoutError)
#: Seconds a wait for a cut notice lasts before the listener checks it is still wanted.
_LISTEN_POLL = 0.25


class _PubSub(Protocol):
    """The part of redis-py's PubSub the cut listener uses, typed here: redis-py's own annotations
    change between releases, and the type check must not change with them."""

    async def subscribe(self, *channels: str) -> Any: ...

    # redis-py's own signature, a poll interval rather than a deadline on our side.
    async def get_message(self, *, timeout: float) -> dict[str, Any] | None: ...  # noqa: ASYNC109

    async def aclose(self) -> None: ...


class CutNotices:
    """The last cut heard of (server time), and the listener that hears the next ones."""

    def __init__(self, client: Any, channel: str, timeout: float, retry_interval: float) -> None:
        self._client = client
        self._channel = channel
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._cut_at = -math.inf
        # Set (and replaced) at each cut: it wakes the sends sleeping until a slot.
        self._notice = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start listening, once (on the running loop)."""
        if self._listener is None and not self._closed:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def aclose(self) -> None:
        """Stop listening; the listener has ended when this returns."""
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.wait([listener])

    async def until_slot(self, decision: Decision, local_now: float) -> bool:
        """Sleep until the booked slot: True; False if a cut was heard first (book again)."""
        offset = local_now - decision.now  # server clock to loop clock, as the answer came
        deadline = decision.now + decision.wait + offset
        loop = asyncio.get_running_loop()
        while (remaining := deadline - loop.time()) > 0:
            notice = self._notice
            try:
                async with asyncio.timeout(remaining):
                    await notice.wait()
            except TimeoutError:
                return True
            if decision.now < self._cut_at:
                return False
        return True

    def heard(self, cut_at: float) -> None:
        """A cut at ``cut_at`` on the server's clock: wake the booked sends to book again."""
        if cut_at <= self._cut_at:
            return
        self._cut_at = cut_at
        notice, self._notice = self._notice, asyncio.Event()
        notice.set()

    async def _listen(self) -> None:
        """Hear the fleet's cuts for the limiter's life; subscribe again after a failure.

        A client without pub/sub (an old ``RedisCluster``) has none.
        """
        if not hasattr(self._client, "pubsub"):
            return
        while not self._closed:
            pubsub = cast(_PubSub, self._client.pubsub(ignore_subscribe_messages=True))
            try:
                async with asyncio.timeout(self._timeout):
                    await pubsub.subscribe(self._channel)
                # Closed is checked, not only cancellation: redis-py's read can swallow a
                # cancel (a timeout firing at once turns it into a TimeoutError it retries).
                while not self._closed:
                    message = await pubsub.get_message(timeout=_LISTEN_POLL)
                    if message is not None and message.get("type") == "message":
                        data = message["data"]
                        text = data.decode() if isinstance(data, bytes) else str(data)
                        self.heard(float(text.split()[0]))
            except (*FAILURES, ValueError) as error:
                logger.debug("no cut notices for now (%s: %s)", type(error).__name__, error)
            finally:
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()
            await asyncio.sleep(self._retry_interval)

"""The progress line on stderr: drawn on a terminal only, redrawn in place, erased before output."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from qconnect_async import RetryDetails

#: A retry that waits longer than this (seconds) is announced on stderr.
_NOTICE_AFTER = 1.0
_ERASE = "\r\x1b[K"


def count(n: int, noun: str) -> str:
    """``1 import job``, ``2 import jobs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class Progress:
    """A note (uploading, waiting), or the knowledge bases done of the total and jobs so far.

    Every method but ``retry_notice`` is a no-op unless ``enabled`` (stderr is a terminal).
    Redraws are limited to one per ``interval`` seconds, except when a KB finishes.
    """

    def __init__(self, stream: TextIO, *, enabled: bool, interval: float = 0.1) -> None:
        self.enabled, self._stream, self._interval = enabled, stream, interval
        self._note, self._total, self._done, self._jobs = "", 0, 0, 0
        self._last, self._shown = -interval, False

    def note(self, text: str) -> None:
        """Show ``text`` until ``start`` is called."""
        self._note = text
        self._draw(force=True)

    def start(self, total: int) -> None:
        """Counting begins: ``total`` knowledge bases to list."""
        self._note, self._total = "", total
        self._draw(force=True)

    def job(self) -> None:
        self._jobs += 1
        self._draw()

    def listing_done(self, knowledge_base_id: str, error: Any) -> None:
        """A knowledge base's listing ended (the library's ``on_listing_done`` callback)."""
        self._done += 1
        self._draw(force=True)

    def retry_notice(self, details: RetryDetails) -> None:
        """A retry hook: a line per retry long enough to be noticed, so that a slow command
        says why (--debug logs every retry)."""
        if details.wait > _NOTICE_AFTER:
            self.clear()  # the line comes back at the next redraw
            wait, code = round(details.wait, 1), details.cause.code
            self._stream.write(f"retrying {details.operation} in {wait:g}s ({code})\n")
            self._stream.flush()

    def clear(self) -> None:
        """Erase the line (it comes back at the next redraw)."""
        if self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._shown = False

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self._interval):
            return
        self._last, self._shown = now, True
        jobs = count(self._jobs, "import job")
        listing = f"listing: {self._done}/{self._total} knowledge bases done, {jobs}"
        self._stream.write(_ERASE + (self._note or listing))
        self._stream.flush()

"""Process-wide switches, kept as stamina keeps them: testing mode (``set_testing``).

Testing mode removes every wait the library makes on its own (retry backoff, Retry-After,
send pacing, the import waiter's polling delay); it is read on every such wait.
"""

from __future__ import annotations

from types import TracebackType

__all__ = ["is_testing", "set_testing"]

_testing = False


class _TestingMode:
    """Returned by ``set_testing``; as a context manager it restores the previous mode."""

    def __init__(self, previous: bool) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _testing
        _testing = self._previous


def set_testing(on: bool = True) -> _TestingMode:
    """Testing mode: no backoff, no Retry-After wait and no pacing wait; process-wide.

    ``set_testing()`` turns it on, ``set_testing(False)`` off. As a context manager
    (``with set_testing(): ...``) it restores the previous mode on the way out. Throttles
    are still retried and still reach the rate limiter; only the waits are gone.
    """
    global _testing
    previous, _testing = _testing, bool(on)
    return _TestingMode(previous)


def is_testing() -> bool:
    """Whether testing mode is on."""
    return _testing

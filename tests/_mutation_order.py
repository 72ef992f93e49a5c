"""How a mutant's tests run under ``make mutate``: likely killers first, each within a time bound.

mutmut runs each mutant's covering tests with ``-x``, so a mutant that is killed costs the
tests run before its first failure. Two facts put the killer early: the test module of the
mutated module states its behaviours most directly, and the durations mutmut measured
(``mutmut-stats.json``, next to the copied tests) rank the rest, so a mutant of the request
path meets the millisecond unit tests before the fake-server tests that take a second.
Only the order changes: every covering test still runs until one fails. A test that outlives
its bound (its measured time, scaled, plus a floor) ends the child as mutmut's timeout.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

#: Where mutmut keeps its measured test durations (the children run in ``mutants/``).
STATS_FILE = Path("mutmut-stats.json")


def mutated_module(mutant: str) -> str | None:
    """``_send`` for ``qconnect_async._send.xǁSenderǁ_send__mutmut_3``; None for a non-mutant."""
    if "__mutmut_" not in mutant:
        return None
    parts = mutant.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "qconnect_async" else None


def own_test_file(module: str) -> str:
    """The test module of a core module: ``tests/test_send.py`` for ``_send``."""
    return f"tests/test{module}.py" if module.startswith("_") else f"tests/test_{module}.py"


def kill_order(nodeids: Sequence[str], mutant: str, durations: Mapping[str, float]) -> list[int]:
    """Indexes of ``nodeids`` in run order: the mutated module's own tests first, then by
    measured duration (unknown ones last), ties in collection order."""
    module = mutated_module(mutant)
    own = own_test_file(module) if module is not None else None

    def key(index: int) -> tuple[bool, float, int]:
        nodeid = nodeids[index]
        return (
            nodeid.split("::", 1)[0] != own,
            durations.get(nodeid, float("inf")),
            index,
        )

    return sorted(range(len(nodeids)), key=key)


def measured_durations(stats_file: Path = STATS_FILE) -> dict[str, float]:
    """mutmut's per-test durations, or none when there is no readable stats file."""
    try:
        data = json.loads(stats_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    durations = data.get("duration_by_test") if isinstance(data, dict) else None
    return dict(durations) if isinstance(durations, dict) else {}


#: mutmut's exit code for a mutant that timed out (counted as killed, reported as timeout).
TIMEOUT_EXIT = 36
#: A test under a mutant may take this long before it counts as hung, plus its measured
#: time times BOUND_FACTOR: the slowest test takes ~2.6 s; the floor covers a child's first
#: test starting the fake server on a machine running two children at once.
BOUND_FLOOR = 10.0
BOUND_FACTOR = 4.0


def time_bound(nodeid: str, durations: Mapping[str, float]) -> float:
    """Seconds a test (setup, call and teardown) may take under a mutant before it is hung."""
    return BOUND_FLOOR + BOUND_FACTOR * durations.get(nodeid, BOUND_FLOOR)


@contextmanager
def exit_when_hung(seconds: float) -> Iterator[None]:
    """End this process with mutmut's timeout code if the block outlives ``seconds``.

    A mutant that hangs a test (a listing that never ends) is otherwise cut by mutmut's own
    bound over all its tests, which waits out the whole run's estimate: a hung test is found
    here within its own bound, and the mutant still counts as timed out. A bare exit, not an
    exception: a hang may sit in a task nobody awaits, where an exception would be lost.
    """

    def hung(signum: int, frame: object) -> None:
        os._exit(TIMEOUT_EXIT)

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

"""The order of a mutant's tests under ``make mutate``: likely killers first, the cheapest first.

mutmut runs each mutant's covering tests with ``-x``, so a mutant that is killed costs the
tests run before its first failure. Two facts put the killer early: the test module of the
mutated module states its behaviours most directly, and the durations mutmut measured
(``mutmut-stats.json``, next to the copied tests) rank the rest, so a mutant of the request
path meets the millisecond unit tests before the fake-server tests that take a second.
Only the order changes: every covering test still runs until one fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

"""The order of a mutant's tests under ``make mutate`` (tests/_mutation_order.py)."""

from __future__ import annotations

import json
from pathlib import Path

from _mutation_order import kill_order, measured_durations, mutated_module

MUTANT = "qconnect_async._send.xǁSenderǁ_send__mutmut_3"


def test_a_mutant_name_gives_its_module_and_other_names_give_none() -> None:
    """The module comes from mutmut's mutant name; a run outside mutmut orders nothing."""
    assert mutated_module(MUTANT) == "_send"
    assert mutated_module("qconnect_async._decode.x__cut_short__mutmut_7") == "_decode"
    assert mutated_module("") is None
    assert mutated_module("stats") is None


def test_the_mutated_modules_own_tests_run_first_then_the_fastest() -> None:
    """Own test module first; then the measured durations, shortest first, unknown last."""
    nodeids = [
        "tests/test_reliability.py::test_slow",
        "tests/test_checks.py::test_unknown",
        "tests/test_send.py::test_slow_own",
        "tests/test_checks.py::test_fast",
        "tests/test_send.py::test_fast_own",
    ]
    durations = {
        "tests/test_reliability.py::test_slow": 1.5,
        "tests/test_checks.py::test_fast": 0.001,
        "tests/test_send.py::test_slow_own": 0.2,
        "tests/test_send.py::test_fast_own": 0.01,
    }
    order = [nodeids[i] for i in kill_order(nodeids, MUTANT, durations)]
    assert order == [
        "tests/test_send.py::test_fast_own",
        "tests/test_send.py::test_slow_own",
        "tests/test_checks.py::test_fast",
        "tests/test_reliability.py::test_slow",
        "tests/test_checks.py::test_unknown",
    ]


def test_durations_come_from_mutmuts_stats_or_are_none(tmp_path: Path) -> None:
    """mutmut's stats file gives the durations; a missing or broken one gives none."""
    stats = tmp_path / "mutmut-stats.json"
    assert measured_durations(stats) == {}
    stats.write_text("{not json", encoding="utf-8")
    assert measured_durations(stats) == {}
    stats.write_text(json.dumps({"duration_by_test": {"tests/test_x.py::t": 0.5}}))
    assert measured_durations(stats) == {"tests/test_x.py::t": 0.5}

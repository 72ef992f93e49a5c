"""How a mutant's tests run under ``make mutate`` (tests/_mutation_order.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _mutation_order import (
    BOUND_FLOOR,
    TIMEOUT_EXIT,
    kill_order,
    measured_durations,
    mutated_module,
    time_bound,
)

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


def test_a_tests_bound_is_its_measured_time_scaled_above_a_floor() -> None:
    """The bound grows with the test's measured time; an unmeasured test gets a wide one."""
    durations = {"tests/test_a.py::fast": 0.001, "tests/test_a.py::slow": 2.5}
    fast = time_bound("tests/test_a.py::fast", durations)
    slow = time_bound("tests/test_a.py::slow", durations)
    assert BOUND_FLOOR <= fast < BOUND_FLOOR + 0.1
    assert slow >= BOUND_FLOOR + 2 * 2.5
    assert time_bound("tests/test_a.py::unknown", durations) > slow


def _run_guarded(seconds: float, body: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import signal, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from _mutation_order import exit_when_hung\n"
        "before = signal.getsignal(signal.SIGALRM)\n"
        f"with exit_when_hung({seconds}):\n"
        f"    {body}\n"
        "assert signal.getsignal(signal.SIGALRM) is before\n"
        "assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_hung_test_ends_the_process_with_mutmuts_timeout_code() -> None:
    """A block that outlives its bound ends the process as mutmut's timeout, not later."""
    hung = _run_guarded(0.2, "time.sleep(30)")
    assert hung.returncode == TIMEOUT_EXIT, hung.stderr


def test_a_test_within_its_bound_runs_on_and_leaves_no_alarm_behind() -> None:
    """A block that ends in time disarms the alarm and restores the previous handler."""
    done = _run_guarded(5.0, "time.sleep(0.01)")
    assert done.returncode == 0, done.stderr

"""The score `make mutate` prints (scripts/mutation_report.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _scripts import ROOT, load_script

report_script = load_script("mutation_report")

RESULTS = """\
    qconnect_async._send.xǁSenderǁ_send__mutmut_1: killed
    qconnect_async._send.xǁSenderǁ_send__mutmut_2: timeout
    qconnect_async._send.xǁSenderǁ_send__mutmut_3: caught by type check
    qconnect_async._send.xǁSenderǁ_send__mutmut_4: survived
    qconnect_async._send.xǁSenderǁ_send__mutmut_5: survived
    qconnect_async._send.xǁSenderǁ_send__mutmut_6: not checked
    qconnect_async._send.xǁSenderǁ_send__mutmut_7: killed
"""
EQUIVALENTS = """\
# a header line
qconnect_async._send.xǁSenderǁ_send__mutmut_4
    The reason, indented.

qconnect_async._send.xǁSenderǁ_send__mutmut_7
    Listed once, killed now.
"""


def test_the_score_counts_detected_mutants_of_those_checked_and_not_equivalent() -> None:
    """Killed, timed out and refused by the type check count; unchecked and equivalents do not."""
    found = report_script.verdicts(RESULTS.splitlines())
    result = report_script.report(found, report_script.equivalents(EQUIVALENTS))
    assert result.detected == 4
    assert result.checked == 6
    assert result.equivalent == ["qconnect_async._send.xǁSenderǁ_send__mutmut_4"]
    assert result.score == 4 / 5


def test_a_survivor_without_a_reason_and_a_stale_equivalent_are_named() -> None:
    """The survivors that need a test are listed, and so is an equivalent that died since."""
    found = report_script.verdicts(RESULTS.splitlines())
    result = report_script.report(found, report_script.equivalents(EQUIVALENTS))
    assert result.unexplained == ["qconnect_async._send.xǁSenderǁ_send__mutmut_5"]
    assert result.stale == ["qconnect_async._send.xǁSenderǁ_send__mutmut_7"]


def test_the_report_fails_while_a_survivor_is_unexplained(tmp_path: Path) -> None:
    """The command exits 1 and prints the survivor; with every survivor explained, 0."""
    listing = tmp_path / "equivalents.txt"
    listing.write_text(EQUIVALENTS, encoding="utf-8")
    failed = _run(listing)
    assert failed.returncode == 1
    assert "score: 4 detected of 5" in failed.stdout
    assert "no test and no reason: qconnect_async._send.xǁSenderǁ_send__mutmut_5" in failed.stdout
    listing.write_text(EQUIVALENTS + "qconnect_async._send.xǁSenderǁ_send__mutmut_5\n    Why.\n")
    passed = _run(listing)
    assert passed.returncode == 0, passed.stdout


def _run(listing: Path) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "mutation_report.py"
    return subprocess.run(
        [sys.executable, str(script), str(listing)],
        input=RESULTS,
        capture_output=True,
        text=True,
        check=False,
        encoding="utf-8",
    )

"""The development lock (`make test` installs it): complete, hashed, and in step with pyproject."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement

from _scripts import load_script, makefile_extras

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements/dev.txt"


def test_the_committed_lock_meets_every_requirement_pyproject_declares() -> None:
    """A pyproject change without `make lock` fails here, in every stage, not only in `make`."""
    check = load_script("check_lock")
    pins = check.locked(LOCK)
    wanted = check.declared(ROOT / "pyproject.toml", makefile_extras())
    assert len(pins) > 50 and len(wanted) > 20
    assert check.problems(pins, dict(pins), wanted, "qconnect-async") == []


def test_every_pin_of_the_lock_is_exact_and_hashed() -> None:
    """pip installs it with --require-hashes: every entry is `name==version` with a sha256."""
    entries: list[str] = []  # an entry starts at a line that is neither indented nor a comment
    for line in LOCK.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            entries.append(line)
        elif entries and line.strip().startswith("--hash="):
            entries[-1] += line
    assert len(entries) == len(load_script("check_lock").locked(LOCK)) > 50
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+ \\", entry), entry
        assert "--hash=sha256:" in entry, entry


def test_a_stale_lock_or_environment_is_named_package_by_package() -> None:
    """Each difference is reported: a version off, a package extra, a requirement unmet."""
    check = load_script("check_lock")
    pins = {"pydantic": "2.7.0", "moto": "5.2.6"}
    have = {"pydantic": "2.8.0", "moto": "5.2.6", "rich": "13.0", "pip": "25.0", "me": "0.1"}
    wanted = [Requirement("pydantic>=2.9"), Requirement("redis>=5"), Requirement("moto<5.3")]
    assert check.problems(pins, have, wanted, "me") == [
        "pydantic: locked 2.7.0, installed 2.8.0",
        "rich 13.0 is installed but not in the lock",
        "pyproject asks for pydantic>=2.9; the lock has pydantic 2.7.0",
        "pyproject asks for redis>=5; the lock has no redis",
    ]


def test_a_requirement_for_another_python_does_not_need_a_pin() -> None:
    """A marker that is false here (an older Python's backport) asks nothing of this lock."""
    check = load_script("check_lock")
    wanted = [Requirement('tomli>=2; python_version < "3.11"')]
    assert check.problems({}, {}, wanted, "me") == []

"""Print pip constraints pinning every declared floor of pyproject.toml (`name>=X` -> `name==X`).

CI's second run installs the project with these constraints, so the floors in pyproject are
the versions the suite actually ran on: one declaration, no hand-kept list beside it.
Usage: python scripts/lowest_pins.py [EXTRA ...]  (default: the runtime dependencies only).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")
_FLOOR = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")


def pins(pyproject: Path, extras: list[str]) -> list[str]:
    """The `name==floor` lines of the runtime dependencies and the given extras.

    A package given two different floors is an error: one of them would never be run.
    """
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {})[extra]
    out: dict[str, str] = {}
    for requirement in requirements:
        match = _REQ.match(requirement.split(";", 1)[0])
        if match is None:
            continue
        name, spec = match.group(1).lower(), match.group(2)
        floor = _FLOOR.search(spec)
        if floor is not None:
            pin = f"{name}=={floor.group(1)}"
            if out.setdefault(name, pin) != pin:
                raise ValueError(f"{name} has two floors in pyproject: {out[name]}, {pin}")
    return sorted(out.values())


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    print("\n".join(pins(root / "pyproject.toml", sys.argv[1:])))

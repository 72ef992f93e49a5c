"""Check that this environment is exactly the development lock, and the lock fits pyproject.

Run by `make` after it installs `.venv` from the lock: every locked distribution is installed at
its locked version, nothing else is (the project itself and pip's own tools aside), and every
requirement pyproject declares (runtime and the Makefile's extras) is met by the lock. A lock
left behind by a pyproject change fails here, with the command that refreshes it.
Usage: python scripts/check_lock.py requirements/dev.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# What a new venv has before anything is installed; not the lock's business.
_BOOTSTRAP = {"pip", "setuptools", "wheel"}


def locked(lock: Path) -> dict[str, str]:
    """The `name==version` pins of a pip-compile lock, by canonical name."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match is not None:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def installed() -> dict[str, str]:
    """Every distribution of this environment, by canonical name."""
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }


def declared(pyproject: Path, extras: list[str]) -> list[Requirement]:
    """The runtime requirements and those of the given extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def problems(
    pins: dict[str, str], have: dict[str, str], wanted: list[Requirement], project: str
) -> list[str]:
    """What differs between the lock, the environment and pyproject's requirements."""
    found = []
    for name, version in sorted(pins.items()):
        if have.get(name) != version:
            found.append(f"{name}: locked {version}, installed {have.get(name, 'nothing')}")
    for name, version in sorted(have.items()):
        if name not in pins and name not in _BOOTSTRAP and name != project:
            found.append(f"{name} {version} is installed but not in the lock")
    for requirement in wanted:
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name not in pins:
            found.append(f"pyproject asks for {requirement}; the lock has no {name}")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            found.append(f"pyproject asks for {requirement}; the lock has {name} {pins[name]}")
    return found


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    extras_line = re.search(r"^EXTRAS := (.+)$", makefile, re.MULTILINE)
    assert extras_line is not None, "the Makefile names its EXTRAS"
    pyproject = root / "pyproject.toml"
    project = canonicalize_name(tomllib.loads(pyproject.read_text())["project"]["name"])
    wanted = declared(pyproject, extras_line.group(1).strip().split(","))
    found = problems(locked(root / argv[1]), installed(), wanted, project)
    for problem in found:
        print(f"check_lock: {problem}", file=sys.stderr)
    if found:
        print("check_lock: not the lock; `make lock` refreshes it", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

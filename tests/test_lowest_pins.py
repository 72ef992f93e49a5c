"""The lowest run (`make test-lowest`) installs every floor pyproject declares, exactly."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from _scripts import load_script, makefile_extras

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
# "name[extras] ...>=floor..." -> name, floor
_FLOOR = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*.*?>=\s*([^,;\s]+)")


def test_every_declared_floor_is_pinned_in_the_lowest_run() -> None:
    """Runtime and every extra (the ones the run does not install too): each floor is pinned."""
    lines = load_script("lowest_pins").pins(PYPROJECT, makefile_extras())
    pinned = dict(line.split("==") for line in lines)
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    declared = list(project["dependencies"])
    for requirements in project["optional-dependencies"].values():
        declared += requirements
    floors = 0
    for requirement in declared:
        match = _FLOOR.match(requirement)
        if match is not None:
            floors += 1
            assert pinned.get(match.group(1).lower()) == match.group(2), requirement
    assert floors >= 10
    # 3.8: the first aiobotocore to build the first request's TLS context off the event loop
    assert pinned["aiobotocore"] == "3.8"


def test_two_floors_for_one_package_are_refused(tmp_path: Path) -> None:
    """A package declared with two floors fails the pins: one of them would never be run."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["pydantic>=2.7"]\n'
        '[project.optional-dependencies]\nx = ["pydantic[email]>=2.9"]\n'
    )
    assert load_script("lowest_pins").pins(pyproject, []) == ["pydantic==2.7"]
    with pytest.raises(ValueError, match="pydantic has two floors"):
        load_script("lowest_pins").pins(pyproject, ["x"])


def test_the_docs_state_the_floors_users_install() -> None:
    """The docs' Supported versions names each runtime and user-extra floor as pyproject has it."""
    guide = (ROOT / "docs" / "guides" / "development.md").read_text()
    section = guide.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = project["optional-dependencies"]
    users = [*project["dependencies"], *extras["testing"], *extras["otel"], *extras["redis"]]
    for requirement in users:
        match = _FLOOR.match(requirement)
        assert match is not None, requirement
        name = requirement.split(">", 1)[0].strip()
        assert f"{name} >= {match.group(2)}" in section, requirement

"""The package as published: sdist and wheel build clean and pass `twine check`, carry the
LICENSE and the metadata, and the testing guide's kit works in a fresh project that installs
the wheel.

The build runs once (module scope), offline (no build isolation: hatchling comes with the dev
extra); the fresh project's venv gets the wheel with --no-deps and sees the dependencies
already installed here through a directory of links (everything but this package), so the
test needs no network and takes seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
#: The guide whose pytest configuration and test snippet a user copies into their project.
TESTING_GUIDE = (ROOT / "docs" / "guides" / "testing.md").read_text()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, built from the checkout."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return {"sdist": next(out.glob("*.tar.gz")), "wheel": next(out.glob("*.whl"))}


def test_build_passes_twine_check(dist: dict[str, Path]) -> None:
    """`twine check --strict` accepts both (the README renders as the long description)."""
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.values())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_license_and_metadata_are_published(dist: dict[str, Path]) -> None:
    """LICENSE is in the sdist and the wheel; the metadata has the license, classifiers,
    project URLs, the testing extra, the CLI and the light pytest11 entry point."""
    with tarfile.open(dist["sdist"]) as sdist:
        names = sdist.getnames()
    assert any(name.endswith("/LICENSE") for name in names)
    assert any(name.endswith("/CHANGELOG.md") for name in names)
    assert any(name.endswith("/scripts/lowest_pins.py") for name in names)  # make test-lowest
    assert any(name.endswith("/requirements/dev.txt") for name in names)  # make test
    assert any(name.endswith("/scripts/check_lock.py") for name in names)
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        files = wheel.namelist()
        info = next(name.split("/")[0] for name in files if ".dist-info/" in name)
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert f"{info}/licenses/LICENSE" in files
    assert metadata["License-Expression"] == "MIT"
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and "Framework :: Pytest" in classifiers
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL") or []} >= {
        "Homepage",
        "Changelog",
    }
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("moto[server]") and "extra == 'testing'" in r for r in requires)
    assert "qconnect-async = qconnect_async.cli:run" in entry_points
    assert "qconnect_async = pytest_qconnect_async" in entry_points


def _block(language: str, marker: str) -> str:
    """The testing guide's ``language`` code block that contains ``marker``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", TESTING_GUIDE, re.DOTALL)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"one {language} block with {marker!r} in docs/guides/testing.md"
    return found[0]


def _dependencies_here(into: Path) -> Path:
    """A directory of links to every installed distribution here, but this package's own."""
    into.mkdir()
    ours = ("qconnect_async", "pytest_qconnect_async", "_editable_impl_qconnect_async")
    for site in dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib")):
        for entry in Path(site).iterdir():
            name = entry.name
            if name.endswith(".pth") or name == "__pycache__" or name.startswith(ours):
                continue
            if "__editable__" in name and "qconnect_async" in name:
                continue
            link = into / name
            if not link.exists():
                link.symlink_to(entry)
    return into


def test_the_testing_guides_kit_works_in_a_fresh_project(
    dist: dict[str, Path], tmp_path: Path
) -> None:
    """A new project with the testing guide's pytest configuration and test snippet, the wheel
    installed in a fresh venv, no AWS setup at all: its tests pass, without warnings."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    subprocess.run(
        [*pip, "--no-deps", "--no-index", str(dist["wheel"])],
        check=True,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(f"{_dependencies_here(tmp_path / 'deps')}\n")
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text(_block("toml", "asyncio_mode"))
    (project / "tests" / "test_jobs.py").write_text(_block("python", "async def test_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env["HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b3 passed\b", summary) and "warning" not in summary, summary
    # The project ran this checkout's wheel, not a copy found elsewhere.
    assert (
        f"{venv}"
        in subprocess.run(
            [str(python), "-c", "import qconnect_async; print(qconnect_async.__file__)"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    )

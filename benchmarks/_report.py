"""The machine header, the table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ._common import Section

PACKAGES = ("qconnect-async", "aiobotocore", "botocore", "boto3", "pydantic", "moto")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """Cores, CPU, OS, Python and the versions of the packages compared."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in PACKAGES},
    }


def header(info: dict[str, Any], *, smoke: bool, endpoint: str) -> list[str]:
    versions = ", ".join(f"{name} {v}" for name, v in info["versions"].items())
    mode = "SMOKE run (tiny sizes, 1 run each: not figures to quote)" if smoke else "full run"
    return [
        f"qconnect-async benchmarks, {mode}",
        f"machine: {info['cores']} cores, {info['cpu']}, {info['platform']}, "
        f"Python {info['python']}",
        f"versions: {versions}",
        f"server: python -m qconnect_async.testing in its own process at {endpoint}",
    ]


def table(sections: Sequence[Section]) -> list[str]:
    """A Markdown table: figure, value, goal."""
    rows = [("Figure", "Value", "Goal")]
    rows += [(r.figure, r.value, r.goal) for s in sections for r in s.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(rows[0]), line(["-" * w for w in widths]), *(line(r) for r in rows[1:])]


def render(
    info: dict[str, Any], sections: Sequence[Section], *, smoke: bool, endpoint: str, took: float
) -> str:
    missed = [r.figure for s in sections for r in s.rows if r.met is False]
    lines = [*header(info, smoke=smoke, endpoint=endpoint), "", *table(sections), ""]
    lines += [f"- {note}" for s in sections for note in s.notes]
    lines += ["", "Goals missed: " + ("; ".join(missed) if missed else "none")]
    lines.append(f"Total benchmark time: {took:.0f} s")
    return "\n".join(lines)


def write_json(
    path: Path, info: dict[str, Any], sections: Sequence[Section], *, smoke: bool, took: float
) -> None:
    document = {
        "smoke": smoke,
        "machine": info,
        "took_s": took,
        "sections": {
            s.name: {
                "rows": [
                    {
                        "key": r.key,
                        "figure": r.figure,
                        "value": r.value,
                        "goal": r.goal,
                        "met": r.met,
                    }
                    for r in s.rows
                ],
                "notes": s.notes,
                "data": s.data,
            }
            for s in sections
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def progress(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)

"""The command line's start: a one-page listing, wall and peak memory, against the same call
as a raw aiobotocore script and as `aws qconnect list-import-jobs` (awscli in a venv of its own).

Every command runs in a process of its own; the runs are interleaved, so that a busy moment of
the machine falls on all alike, and the figures are medians. Each command first runs once with
bytecode writing on: every measured run reads compiled modules, as an installed package does.
awscli's venv is built once (`--awscli`: pip reaches the package index) under .venv-awscli.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, median, runs_of

ROOT = Path(__file__).resolve().parents[1]
AWSCLI = "awscli==1.46.*"
AWSCLI_VENV = ROOT / ".venv-awscli"
JOBS = 50  # one page
RUNS = 11
MIB = 1024  # ru_maxrss is in KiB on Linux


def _ours() -> list[str]:
    """The installed qconnect-async script (beside this Python), else python -m."""
    script = Path(sys.executable).with_name("qconnect-async")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qconnect_async"]


def awscli_venv() -> Path:
    """awscli's `aws`, installed once in a venv of its own (awscli pins its own botocore)."""
    aws, stamp = AWSCLI_VENV / "bin" / "aws", AWSCLI_VENV / ".installed"
    if not stamp.exists():
        shutil.rmtree(AWSCLI_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        pip = [str(AWSCLI_VENV / "bin" / "python"), "-m", "pip", "install", "-q", AWSCLI]
        subprocess.run(pip, check=True)
        stamp.touch()
    return aws


# Runs a command and says its wall, peak RSS and exit status. A small process of its own: a
# child's peak RSS counts what its parent had mapped when it forked (this process: ~80 MiB).
_LAUNCHER = """
import os, sys, time
out = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=out)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def _measure(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """One run's wall (s) and peak RSS (MiB)."""
    launcher = [sys.executable, "-S", "-c", _LAUNCHER, *argv]
    done = subprocess.run(launcher, env=env, capture_output=True, text=True, check=True)
    wall, rss, status = done.stdout.split()
    if status != "0":
        raise RuntimeError(f"{argv[0]} exited {status}")
    return float(wall), int(rss) / MIB


def _ratio(ours: float, theirs: float, unit: str) -> str:
    return f"{ours / theirs:.2f}x ({ours:.3f} / {theirs:.3f} {unit})"


def run(
    server: RemoteQConnectServer,
    *,
    smoke: bool = False,
    runs: int | None = None,
    awscli: bool = False,
) -> Section:
    """Time the commands; awscli's rows are measured with `awscli` only."""
    server.reset()
    (kb,) = server.seed(1, JOBS)
    env = os.environ | {"AWS_ENDPOINT_URL_QCONNECT": server.endpoint_url}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    listing = ["list-import-jobs", "--knowledge-base-id", kb, "--output", "json"]
    commands = {
        "qconnect-async": [*_ours(), *listing],
        "aiobotocore": [sys.executable, str(Path(__file__).with_name("_aiobotocore_list.py")), kb],
        "help": [*_ours(), "--help"],
        "python": [sys.executable, "-c", "pass"],
    }
    if awscli:
        commands["awscli"] = [str(awscli_venv()), "qconnect", *listing]
    for argv in commands.values():  # writes the bytecode; not measured
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs_of(RUNS, smoke, runs)):
        for name, argv in commands.items():
            measured[name].append(_measure(argv, env))
    wall = {name: median([w for w, _ in done]) for name, done in measured.items()}
    rss = {name: median([r for _, r in done]) for name, done in measured.items()}
    ours = "CLI one-page listing"
    aws = "`aws qconnect list-import-jobs` (awscli 1.46, a venv of its own)"
    rows = [
        Row(
            "cli.wall_aiobotocore",
            f"{ours}, wall / a raw aiobotocore script doing the same",
            _ratio(wall["qconnect-async"], wall["aiobotocore"], "s"),
            "<= 1.0x",
            wall["qconnect-async"] <= wall["aiobotocore"],
        ),
        Row(
            "cli.rss_aiobotocore",
            f"{ours}, peak RSS / the raw aiobotocore script",
            _ratio(rss["qconnect-async"], rss["aiobotocore"], "MiB"),
            "<= 1.0x",
            rss["qconnect-async"] <= rss["aiobotocore"],
        ),
    ]
    if awscli:
        rows += [
            Row(
                "cli.wall_awscli",
                f"{ours}, wall / {aws}",
                _ratio(wall["qconnect-async"], wall["awscli"], "s"),
                "<= 1.0x",
                wall["qconnect-async"] <= wall["awscli"],
            ),
            Row(
                "cli.rss_awscli",
                f"{ours}, peak RSS / {aws}",
                _ratio(rss["qconnect-async"], rss["awscli"], "MiB"),
                "<= 1.0x",
                rss["qconnect-async"] <= rss["awscli"],
            ),
        ]
    else:
        skipped = "not run (python -m benchmarks --awscli)"
        rows += [
            Row("cli.wall_awscli", f"{ours}, wall / {aws}", skipped),
            Row("cli.rss_awscli", f"{ours}, peak RSS / {aws}", skipped),
        ]
    rows.append(
        Row(
            "cli.help",
            f"`qconnect-async --help` wall (`python -c pass`: {wall['python']:.3f} s)",
            f"{wall['help']:.3f} s",
        )
    )
    floor = ""
    if awscli:
        floor = (
            f" The floor against awscli is aiobotocore's own start: the raw aiobotocore script "
            f"takes {_ratio(wall['aiobotocore'], wall['awscli'], 's')} of awscli's wall."
        )
    note = (
        f"CLI: `{' '.join(['qconnect-async', *listing[:2]])} KB --output json` ({JOBS} jobs, one "
        "page) and the same call by the raw aiobotocore script benchmarks/_aiobotocore_list.py"
        f"{' and by awscli' if awscli else ''}, each a process of its own, "
        f"{len(measured['python'])} interleaved runs, medians; peak RSS from wait4.{floor}"
    )
    data = {
        "wall_s": wall,
        "peak_rss_mib": rss,
        "runs": {name: [list(run) for run in done] for name, done in measured.items()},
    }
    return Section("cli", rows, [note], data)

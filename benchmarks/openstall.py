"""The longest event-loop stall while a client opens and makes its first call: ours, aiobotocore.

Each run is a new process (``python -m benchmarks._open_probe``): botocore's data is loaded
cold, as for the first client of a service; the library is imported before the loop starts.
Runs alternate between the clients; the figures are the median and the worst of the runs.
Beside them, the probe's own floor: the same ticker in the same kind of process with nothing
opening, for as long as our open + call took in that round, under the same load. ``burners``
CPU-bound processes (``python -m benchmarks --only openstall --burners N``) load the machine
for the whole section, for the figure under load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, median, runs_of

#: issue 25: a service keeps answering while a client opens
GOAL_MS = 10.0
CLIENTS = ("qconnect_async", "aiobotocore")
JOBS = 5


def _probe(
    server: RemoteQConnectServer, client: str, kb: str, seconds: float = 0.2
) -> dict[str, float]:
    command = [
        sys.executable, "-m", "benchmarks._open_probe", "--client", client,
        "--endpoint-url", server.endpoint_url, "--region", server.region, "--kb", kb,
        "--seconds", str(seconds),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def _burning(processes: int) -> Iterator[None]:
    """``processes`` busy loops beside the runs (a loaded machine), ended afterwards."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def run(
    server: RemoteQConnectServer,
    *,
    smoke: bool = False,
    runs: int | None = None,
    burners: int = 0,
) -> Section:
    """The open-stall rows and the probe's floor: a new process per run, alternating."""
    server.reset()
    kb = server.seed(1, JOBS)[0]
    count = runs_of(7, smoke, runs)
    results: dict[str, list[dict[str, float]]] = {client: [] for client in (*CLIENTS, "none")}
    with _burning(burners):
        for _ in range(count):
            for client in CLIENTS:
                results[client].append(_probe(server, client, kb))
            # The floor over the same span as our open + call of this round.
            wall = results["qconnect_async"][-1]["wall"]
            results["none"].append(_probe(server, "none", kb, seconds=wall))
    rows = []
    medians: dict[str, float] = {}
    for client in CLIENTS:
        gaps_ms = [run["longest_gap"] * 1000 for run in results[client]]
        walls_ms = [run["wall"] * 1000 for run in results[client]]
        medians[client] = median(gaps_ms)
        ours = client == "qconnect_async"
        rows.append(
            Row(
                key=f"openstall.{client}",
                figure=f"Longest loop stall, a cold open + first call: {client}",
                value=(
                    f"{medians[client]:.1f} ms (worst {max(gaps_ms):.1f} ms; "
                    f"open + call {median(walls_ms):.0f} ms)"
                ),
                goal=f"<= {GOAL_MS:g} ms" if ours else "-",
                met=medians[client] <= GOAL_MS if ours else None,
            )
        )
    floor_ms = [run["longest_gap"] * 1000 for run in results["none"]]
    above_ms = [
        (ours["longest_gap"] - none["longest_gap"]) * 1000
        for ours, none in zip(results["qconnect_async"], results["none"], strict=True)
    ]
    rows.append(
        Row(
            key="openstall.probe_floor",
            figure="The probe's own floor: the same ticker, nothing opening, as long",
            value=(
                f"{median(floor_ms):.1f} ms (worst {max(floor_ms):.1f} ms); ours above it: "
                f"{median(above_ms):.1f} ms (median of the rounds)"
            ),
        )
    )
    load = f"{burners} CPU burner(s) beside the runs; " if burners else ""
    notes = [
        f"Open stall: {load}a new process per run (python -m benchmarks._open_probe), the library "
        f"imported before the loop; a task sleeping 1 ms records its longest gap while another "
        f"opens a client and lists one page ({JOBS} jobs); aiobotocore: "
        f"AioSession().create_client + list_import_jobs; medians over {count} run(s) each, "
        f"alternating (worst: the longest of the runs). Floor: --client none, the ticker "
        f"alone in the same kind of process for as long as our open + call of that round."
    ]
    return Section(name="openstall", rows=rows, notes=notes, data={"runs": results})

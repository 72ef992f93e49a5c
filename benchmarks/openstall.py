"""The longest event-loop stall while a client opens and makes its first call: ours, aiobotocore.

Each run is a new process (``python -m benchmarks._open_probe``): botocore's data is loaded
cold, as for the first client of a service; the library is imported before the loop starts.
Runs alternate between the clients; the figures are the median and the worst of the runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

from qconnect_async.testing import RemoteQConnectServer

from ._common import Row, Section, median, runs_of

#: issue 25: a service keeps answering while a client opens
GOAL_MS = 10.0
CLIENTS = ("qconnect_async", "aiobotocore")
JOBS = 5


def _probe(server: RemoteQConnectServer, client: str, kb: str) -> dict[str, float]:
    command = [
        sys.executable, "-m", "benchmarks._open_probe", "--client", client,
        "--endpoint-url", server.endpoint_url, "--region", server.region, "--kb", kb,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(server: RemoteQConnectServer, *, smoke: bool = False, runs: int | None = None) -> Section:
    """The open-stall rows: a new process per run, the clients alternating."""
    server.reset()
    kb = server.seed(1, JOBS)[0]
    count = runs_of(7, smoke, runs)
    results: dict[str, list[dict[str, float]]] = {client: [] for client in CLIENTS}
    for _ in range(count):
        for client in CLIENTS:
            results[client].append(_probe(server, client, kb))
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
    notes = [
        f"Open stall: a new process per run (python -m benchmarks._open_probe), the library "
        f"imported before the loop; a task sleeping 1 ms records its longest gap while another "
        f"opens a client and lists one page ({JOBS} jobs); aiobotocore: "
        f"AioSession().create_client + list_import_jobs; medians over {count} run(s) each, "
        f"alternating (worst: the longest of the runs)."
    ]
    return Section(name="openstall", rows=rows, notes=notes, data={"runs": results})

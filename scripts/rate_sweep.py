"""The send rate over whole listings on the fake clock, for a table of quotas and round trips.

The fake-clock twin of ``python -m benchmarks --only throttled_long`` over many quotas, round
trips and seeds, in seconds of real time: the clients of tests/_simbucket.py (a token-bucket
service with a burst of 5; 20 KBs listed 16 at once through a ``Sender``) on the fake clock of
tests/_fake_time.py, as tests/test_ratelong.py runs them. Each cell: the mean throttled share
(the worst seed's throttles of its requests) and the mean wall over the ideal (the worst
seed's), as the retries guide's tables give them::

    python scripts/rate_sweep.py                          # probe_requests=40, 60 s listings
    python scripts/rate_sweep.py --probe-requests 0 --seconds 3 --quotas 40   # the default

To compare with another version of the library, run it with that version's src/ first on
PYTHONPATH.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _fake_time import FakeClockLoop
from _simbucket import listing as simbucket_listing
from qconnect_async._config import set_testing

QUOTAS = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 40.0)
LATENCIES = (0.01, 0.02, 0.05)


def listing(
    quota: float, latency: float, seed: int, *, probe_requests: float, seconds: float
) -> tuple[int, int, float]:
    """One listing of ``seconds`` of pages at ``quota``: throttles, requests, wall / ideal."""

    async def run() -> tuple[int, int, float]:
        service, wall = await simbucket_listing(
            quota, latency, seed, probe_requests=probe_requests, seconds=seconds
        )
        return service.throttled, service.requests, wall

    loop = FakeClockLoop()
    try:
        with set_testing(False):
            return loop.run_until_complete(run())
    finally:
        loop.close()


def row(quota: float, latency: float, seeds: int, probe_requests: float, seconds: float) -> str:
    """One markdown row: the mean and the worst seed of ``seeds`` listings."""
    runs = [
        listing(quota, latency, seed, probe_requests=probe_requests, seconds=seconds)
        for seed in range(seeds)
    ]
    share = sum(t / n for t, n, _ in runs) / seeds
    worst = max(runs, key=lambda run: run[0] / run[1])
    wall = sum(w for _, _, w in runs) / seeds
    return (
        f"| {quota:g} req/s, {latency * 1000:g} ms | {share:.1%} ({worst[0]} of {worst[1]}) "
        f"| {wall:.2f}x ({max(w for _, _, w in runs):.2f}x) |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/rate_sweep.py", description=__doc__)
    add = parser.add_argument
    add("--quotas", type=float, nargs="+", default=QUOTAS, metavar="RATE")
    add("--latencies", type=float, nargs="+", default=LATENCIES, metavar="SECONDS")
    add("--seeds", type=int, default=8, help="listings per cell (default 8)")
    add("--probe-requests", type=float, default=40.0, help="0: the default controller")
    add("--seconds", type=float, default=60.0, help="the listing's ideal length")
    args = parser.parse_args(argv)
    print("| quota, round trip | throttled | wall / ideal |")
    print("| --- | --- | --- |")
    for quota in args.quotas:
        for latency in args.latencies:
            print(row(quota, latency, args.seeds, args.probe_requests, args.seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

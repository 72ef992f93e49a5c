"""scripts/rate_sweep.py: the retries guide's fake-clock tables, one command."""

from __future__ import annotations

import pytest

from _scripts import load_script


def test_a_cell_is_the_mean_and_the_worst_seed_of_its_listings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """At 2 req/s with 10 ms round trips, probe_requests=40: 6 of 126 throttled in the worst
    of 4 seeds (the cold start's 1, 3 to find the rate, 2 probes), the wall near the ideal;
    the row is the same listing tests/test_ratelong.py measures."""
    sweep = load_script("rate_sweep")
    assert sweep.main(["--quotas", "2", "--latencies", "0.01", "--seeds", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["| quota, round trip | throttled | wall / ideal |", "| --- | --- | --- |"]
    assert lines[2] == "| 2 req/s, 10 ms | 4.8% (6 of 126) | 1.02x (1.02x) |"
    throttles, requests, wall = sweep.listing(2.0, 0.01, 0, probe_requests=40.0, seconds=60.0)
    assert (throttles, requests) == (6, 126) and wall == pytest.approx(1.02, abs=0.01)


def test_the_default_controller_and_a_shorter_listing_are_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--probe-requests 0 runs the default (a probe every 2-3 s: at 2 req/s a fifth of the
    requests or more throttled), --seconds the listing's length (12 s at 10 req/s: 120 pages)."""
    sweep = load_script("rate_sweep")
    default = ["--quotas", "2", "--latencies", "0.01", "--seeds", "1", "--probe-requests", "0"]
    assert sweep.main(default) == 0
    share = float(capsys.readouterr().out.splitlines()[2].split("|")[2].split("%")[0])
    assert share >= 20.0
    _, requests, _ = sweep.listing(10.0, 0.01, 0, probe_requests=0.0, seconds=12.0)
    assert 120 <= requests < 140

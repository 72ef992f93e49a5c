"""`python -m benchmarks --smoke` runs every section end to end (no timing assertions)."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_ROWS = {
    "cpu.boto3",
    "cpu.aiobotocore",
    "cpu.capo_qconnect",
    "cpu.capo_ratio",
    "cpu.qconnect_async",
    "cpu.ratio",
    "fanout.wall_ratio",
    "fanout.max_in_flight",
    "fanout.cold_wall_ratio",
    "fanout.aiobotocore_wall_ratio",
    "throttled.aiobotocore_legacy",
    "throttled.aiobotocore_standard",
    "throttled.aiobotocore_adaptive",
    "throttled.qconnect_async",
    "throttled_quota.aiobotocore_adaptive",
    "throttled_quota.qconnect_async",
    "throttled_quota.qconnect_async_alone",
    "throttled_long.rate_10",
    "throttled_long.rate_10_alone",
    "throttled_long.rate_2",
    "throttled_long.rate_2_alone",
    "sendrate.recovery",
    "sendrate.sporadic",
    "sendrate.early_throttle",
    "fleet.qconnect_async",
    "fleet.aiobotocore_adaptive",
    "fleet_redis.redis_4",
    "fleet_redis.redis_8",
    "fleet_redis.redis_4_outage",
    "fleet_redis.round_trip",
    "fleet_redis.qconnect_async_4",
    "fleet_redis.qconnect_async_8",
    "fleet_redis.aiobotocore_adaptive_4",
    "fleet_redis.aiobotocore_adaptive_8",
    "fleet_redis_long.rate_10",
    "fleet_redis_long.rate_10_40",
    "fleet_redis_long.rate_2",
    "fleet_redis_long.rate_2_40",
    "interactive.page_latency",
    "interactive.bulk_wall",
    "fastapi_shed.bounded",
    "fastapi_shed.unbounded",
    "memory.peak",
    "openstall.qconnect_async",
    "openstall.aiobotocore",
    "openstall.probe_floor",
    "cli.wall_aiobotocore",
    "cli.rss_aiobotocore",
    "cli.wall_awscli",
    "cli.rss_awscli",
    "cli.help",
    "waitmany.requests_ratio",
    *(
        f"router.{scenario}.{row}"
        for scenario in ("even", "slow")
        for row in ("router", "router_account_id", "today", "aiobotocore")
    ),
}


def _numbers(value: Any) -> list[float]:
    """Every number in a JSON document."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


def test_smoke_prints_every_row_with_finite_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The smoke run prints a table with every row, and every number it saves is finite."""
    monkeypatch.syspath_prepend(str(ROOT))
    bench = importlib.import_module("benchmarks.__main__")
    saved = tmp_path / "bench.json"

    assert bench.main(["--smoke", "--json", str(saved)]) == 0

    table = capsys.readouterr().out
    document = json.loads(saved.read_text())
    rows = [row for section in document["sections"].values() for row in section["rows"]]
    assert {row["key"] for row in rows} == EXPECTED_ROWS
    for row in rows:
        assert f"| {row['figure']}" in table
        assert row["value"] in table
        assert "nan" not in row["value"].lower() and "inf" not in row["value"].lower()
    numbers = _numbers(document)
    assert numbers and all(math.isfinite(n) for n in numbers)
    long_rows = document["sections"]["throttled_long"]["data"]
    for data in (
        document["sections"]["throttled"]["data"],
        document["sections"]["throttled_quota"]["data"],
        long_rows["rate_10"],
        long_rows["rate_2"],
    ):  # when each throttle came, for --json
        runs = data["rows"]["qconnect_async"]
        assert [len(run["throttled_at"]) for run in runs] == [run["throttled"] for run in runs]
        assert all(t >= 0 for run in runs for t in run["throttled_at"])
    quota_alone = document["sections"]["throttled_quota"]["data"]["rows"]["qconnect_async_alone"]
    for runs in [
        *long_rows["rate_10"]["rows"].values(),
        *long_rows["rate_2"]["rows"].values(),
        quota_alone,
    ]:  # split by phase, as the client saw
        assert [sum(run["phases"]) for run in runs] == [run["throttled"] for run in runs]
    cli = {row["key"]: row["value"] for row in document["sections"]["cli"]["rows"]}
    assert cli["cli.wall_awscli"].startswith("not run")  # no awscli venv built, no index reached
    memory = document["sections"]["memory"]["data"]
    assert memory["jobs"] == memory["expected_jobs"]

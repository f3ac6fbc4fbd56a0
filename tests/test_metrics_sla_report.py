"""`tokenops sla report`: availability, latency and time to first token against the tenant class's objectives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tests.conftest import demo_catalog
from tokenops.catalog import parse_catalog
from tokenops.cli.main import main
from tokenops.store import SQLiteStore, UsageRecord


def at(day: int, hour: int = 12) -> int:
    return int(datetime(2026, 11, day, hour, tzinfo=UTC).timestamp() * 1000)


def record(n: int, created: int, status: int = 200, ttft: float = 150.0, latency: float = 900.0) -> UsageRecord:
    return UsageRecord(f"req-{n}", created, "cn-gov-energy", "gov-default", "chat.completions", "grid-fault-expert",
                       status, "ok" if status == 200 else "upstream_error", deployment_id="gov-grid-north-1",
                       latency_ms=latency, ttft_ms=ttft if status == 200 else None)  # fmt: skip


async def seed(home: Path, records: list[UsageRecord]) -> None:
    store = SQLiteStore(home / "tokenops.db")
    await store.open()
    await store.seed(parse_catalog(demo_catalog()), lambda key: key)
    await store.write_usage(records)
    await store.close()


def test_sla_report_lists_each_day_that_missed_availability_or_first_token_objectives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [record(i, at(3)) for i in range(1000)]
    outage = [record(2000 + i, at(9), status=502) for i in range(5)] + [record(3000 + i, at(9)) for i in range(95)]
    slow = [record(4000 + i, at(17), ttft=2600.0) for i in range(50)]
    refused = [record(5000 + i, at(17), status=429) for i in range(40)]  # the tenant's own limits: not held against us
    other_month = [record(6000, at(1) - 86_400_000, status=500)]
    asyncio.run(seed(tmp_path, good + outage + slow + refused + other_month))

    argv = ["sla", "report", "--tenant", "cn-gov-energy", "--period", "2026-11", "--home", str(tmp_path)]
    assert main([*argv, "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["kind"] == "government" and doc["objectives"]["availability"] == 0.9995
    assert doc["requests"] == 1000 + 100 + 50 + 40
    assert doc["failed"] == 5 and doc["served"] == 1145
    assert not doc["met"]
    found = {(b["window"], b["metric"]) for b in doc["breaches"]}
    assert ("2026-11-09", "availability") in found
    assert ("2026-11-17", "p99_ttft_ms") in found and ("2026-11-17", "p50_ttft_ms") in found
    assert ("2026-11", "availability") in found  # 5 failures in 1150 eligible misses 99.95 % over the month too
    assert not any(b["window"] == "2026-11-03" for b in doc["breaches"])

    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "BREACH" in text and "2026-11-09" in text and "Breaches" in text


def test_sla_report_refuses_an_unknown_tenant_or_a_bad_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(tmp_path, []))
    assert main(["sla", "report", "--tenant", "nobody", "--period", "2026-11", "--home", str(tmp_path)]) == 2
    assert main(["sla", "report", "--tenant", "cn-gov-energy", "--period", "Nov", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no tenant 'nobody'" in err and "expected a month" in err

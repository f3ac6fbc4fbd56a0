"""`tokenops demo traffic` against a running gateway: every kind of client shows up, and --record replays."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.conftest import Gateway
from tokenops.cli.main import main


def test_demo_traffic_mixes_agents_batches_consumers_and_a_scraper_and_records_them(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "day.jsonl"
    assert (
        main(["demo", "traffic", "--url", gateway.url, "--duration", "4", "--agents", "2", "--record", str(record)])
        == 0
    )
    lines = [orjson.loads(line) for line in record.read_text().splitlines()]
    clients = Counter(line["client"] for line in lines)
    assert set(clients) == {"acme-agent", "gov-batch", "consumer", "scraper"}
    assert {line["tenant"] for line in lines} == {"acme-manufacturing", "cn-gov-energy", "ringback-app"}
    first = lines[0]
    assert set(first) >= {"tenant", "time", "body"} and first["body"]["messages"]
    sessions = [line for line in lines if line["client"] == "acme-agent"]
    assert max(len(line["body"]["messages"]) for line in sessions) > 2  # agent context grows over a session
    assert "sk-demo" not in record.read_text()  # keys are never recorded
    stored = Counter(r["tenant_id"] for r in gateway.records())
    assert stored["acme-manufacturing"] and stored["cn-gov-energy"] and stored["ringback-app"]
    assert sum(stored.values()) == len(lines)
    assert "demo traffic against" in capsys.readouterr().out

"""`tokenops demo traffic` against a running gateway: every capability of the platform shows up, and --record
replays. A few seconds stand for the day; the clients' pauses shrink with it."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.conftest import Gateway
from tokenops.cli.main import main


def _rows(gateway: Gateway, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(gateway.home / "tokenops.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_demo_traffic_shows_every_capability_and_records_what_it_sent(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOKENOPS_ADMIN_TOKEN", raising=False)  # the demo's own operator token tops up
    record = tmp_path / "day.jsonl"
    argv = ["demo", "traffic", "--url", gateway.url, "--duration", "8", "--agents", "2", "--record", str(record)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = [orjson.loads(line) for line in record.read_text().splitlines()]
    clients = Counter(line["client"] for line in lines)
    assert set(clients) == {"acme-agent", "acme-analyst", "gov-batch", "consumer", "scraper", "tutor"}
    assert "sk-demo" not in record.read_text()  # keys are never recorded
    records = gateway.records()
    assert len(records) == len(lines)  # every request sent has its usage record

    # long agent sessions outgrow tele-lite's window and are compacted (the answers said so)
    assert max(len(line["body"]["messages"]) for line in lines if line["client"] == "acme-agent") >= 12
    assert "compacted to fit the window" in out
    # `auto` routed both ways
    routed = {r["model_served"] for r in records if r["model_requested"] == "auto" and r["status"] == 200}
    assert routed == {"tele-lite", "tele-max"}
    # the bureau's batch sessions reach their budget's 80% and 100% alerts, and stay on its own deployments
    alerts = _rows(gateway, "SELECT budget_id, threshold FROM budget_alerts")
    assert {("gov-batch-session", 80), ("gov-batch-session", 100)} <= set(alerts)
    gov = [r for r in records if r["tenant_id"] == "cn-gov-energy" and r["status"] == 200]
    assert gov and {r["region"] for r in gov} == {"cn-north"}
    assert {r["deployment_id"] for r in gov} == {"gov-grid-north-1"}
    # the prepaid start-up runs out (402), is topped up through the admin API and is served again
    tutor = [r for r in records if r["tenant_id"] == "nova-tutor"]
    refused = [i for i, r in enumerate(tutor) if r["status"] == 402]
    assert refused and any(r["status"] == 200 for r in tutor[refused[0] + 1 :])
    topups = _rows(gateway, "SELECT count(*) FROM ledger_entries WHERE account_id = 'nova-tutor' AND kind = 'topup'")
    assert topups[0][0] >= 1
    # the scraper is caught by the extraction detectors and throttled, not by a rate limit
    scraped = Counter(r["error_code"] for r in records if r["key_id"] == "ringback-partner" and r["status"] == 429)
    assert scraped["rate_limit_extraction"] > 0 and not scraped["rate_limit_rpm"]
    events = _rows(gateway, "SELECT key_id, detector, action FROM security_events")
    assert any(key == "ringback-partner" and action == "throttle" for key, _, action in events)
    assert {key for key, _, _ in events} == {"ringback-partner"}  # no one else is suspected
    assert "429 rate_limit_extraction" in out and "topped up" in out

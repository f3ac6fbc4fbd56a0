"""A scripted month of the demo tenant's traffic, invoiced to the minor unit, through the CLI too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tests.charging_support import verify
from tests.conftest import demo_catalog
from tokenops.catalog import parse_catalog
from tokenops.charging.catalog import parse_charging
from tokenops.charging.prices import Tokens
from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.cli.main import main
from tokenops.store import SQLiteStore, UsageRecord

TENANT = "acme-manufacturing"


def at(day: int, month: int = 11, hour: int = 12) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=UTC).timestamp() * 1000)


# (started, model, prompt tokens, cached, output tokens)
MONTH = [
    (at(31, 10, 23), "tele-lite", 1000, 0, 1000),  # October: 0.0018, invoiced 0.00 and carried into November
    (at(3), "tele-max", 30_000_000, 0, 10_000_000),  # all 40M from the coding package
    (at(10), "tele-max", 8_000_000, 0, 4_000_000),  # package's last 10M; 2M output at 12.80 = 25.60
    (at(20), "tele-max", 1_000_000, 200_000, 500_000),  # new prices: 0.8M x 6 + 0.2M x 1.5 + 0.5M x 24 = 17.10
    (at(25), "tele-embed", 3_333_333, 0, 0),  # 3,333,333 x 0.20 / 1M = 0.6666666 -> 0.666667 exact
    (at(28), "tele-lite", 12_345, 0, 6_789),  # 0.007407 + 0.0081468 = 0.0155538 -> 0.015554 exact
    (at(1, 12, 0), "tele-lite", 1000, 0, 1000),  # December
]
# November's exact charges 242.382221 plus October's carried 0.0018 = 242.384021: invoiced 242.38, 0.004021 carried on
SUBTOTAL = 24_238
TAX = 1_454  # 6% of 242.38 = 14.5428
TOTAL = SUBTOTAL + TAX


def month_catalog() -> dict[str, object]:
    data = demo_catalog()
    data["prices"]["versions"].append(
        {
            "id": "2026-11-15",
            "effective": "2026-11-15T00:00:00Z",
            "models": {
                **data["prices"]["versions"][0]["models"],
                "tele-max": {"input": "6", "output": "24", "cached_input": "1.5"},
            },
        }
    )
    return data


async def _script(home: Path) -> None:
    store = SQLiteStore(home / "tokenops.db")
    await store.open()
    spec = parse_catalog(month_catalog())
    await store.seed(spec, lambda k: "h-" + k)
    service = ChargingService(ChargingSQLite(store))
    await service.store.open()
    await service.store.seed(parse_charging(spec), at(1, 11, 0))  # the package is bought on 1 November
    await service.load()
    for i, (started, model, prompt, cached, output) in enumerate(MONTH):
        record = UsageRecord(f"req-{i}", started, TENANT, "acme-default", "chat.completions", model, 200, "ok")
        record.model_served, record.input_tokens, record.output_tokens = model, prompt, output
        record.cached_tokens = cached
        hold = service.credit.reserve(record.request_id, TENANT, "manufacturing", "acme-default", None, model,
                                      prompt, output, started, min_output=0)  # fmt: skip
        assert hold is not None
        entry = service.credit.settle(hold, Tokens.of_usage(prompt, cached, 0, output), started + 1000)
        await service.store.settle([record], [entry] if entry else [], [], [])
    await store.close()


@pytest.fixture
def month(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    asyncio.run(_script(home))
    return home


def test_invoice_of_a_scripted_month_matches_the_hand_computed_total(
    month: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invoice", "--tenant", TENANT, "--period", "2026-11", "--json", "--home", str(month)]) == 0
    invoice = orjson.loads(capsys.readouterr().out)
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("242.38", "14.54", "256.92")
    assert (invoice["rounding_carried_in"], invoice["rounding_carried_out"]) == ("0.001800", "0.004021")
    lines = {(r["model"], r["version"]): r for r in invoice["rows"]}
    assert lines[("tele-max", "2026-01")]["amount"] == "25.60"
    assert lines[("tele-max", "2026-01")]["package_tokens"] == 50_000_000
    assert lines[("tele-max", "2026-11-15")]["amount"] == "17.10"
    # lines are rounded on the running total: 0.0018 + 0.666667 -> 0.67; + 0.015554 = 0.684021 -> 0.68, so 0.01
    assert (lines[("tele-embed", "2026-11-15")]["exact"], lines[("tele-embed", "2026-11-15")]["amount"]) == (
        "0.666667", "0.67")  # fmt: skip
    assert (lines[("tele-lite", "2026-11-15")]["exact"], lines[("tele-lite", "2026-11-15")]["amount"]) == (
        "0.015554", "0.01")  # fmt: skip
    assert lines[("tele-lite", "2026-11-15")]["requests"] == 1
    assert lines[("package coding-50m", f"{TENANT}:seed:0")]["amount"] == "199.00"
    assert TOTAL == 25_692


def test_ledger_verify_passes_then_a_full_run_fails_listing_a_charge_tampered_after_it_was_verified(
    month: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(month) == []
    assert main(["ledger", "verify", "--home", str(month)]) == 0
    import sqlite3  # noqa: PLC0415 - only this test writes to the file behind the ledger's back

    db = sqlite3.connect(month / "tokenops.db")
    db.execute("UPDATE ledger_entries SET amount_units = amount_units - 1 WHERE request_id = 'req-3'")
    db.execute("UPDATE accounts SET balance_units = balance_units - 1")
    db.commit()
    db.close()
    capsys.readouterr()
    assert main(["ledger", "verify", "--home", str(month)]) == 0  # incremental: nothing new since the checkpoint
    assert main(["ledger", "verify", "--home", str(month), "--full"]) == 1
    out = capsys.readouterr().out
    assert "hash_chain: entry" in out and "rated_usage: entry" in out and "req-3" in out


def test_cli_top_up_is_idempotent_and_package_grant_adds_tokens(
    month: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(month)]
    assert main(["topup", "ringback-app", "50.00", "--key", "pay-9", *home]) == 0
    assert main(["topup", "ringback-app", "50.00", "--key", "pay-9", *home]) == 0
    assert main(["topup", "ringback-app", "60.00", "--key", "pay-9", *home]) == 2
    assert main(["package", "grant", TENANT, "coding-50m", "--key", "order-1", "--starts", "2026-11-20", *home]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[:3] == ["recorded", "already recorded (same key, same entry)", "granted"]
    assert "pay-9" in out.err
    assert main(["report", "margin", "--period", "2026-11", "--json", *home]) == 0
    rows = orjson.loads(capsys.readouterr().out)["rows"]
    assert {r["model"] for r in rows} == {"tele-max", "tele-embed", "tele-lite"}
    assert all(r["tenant"] == TENANT and r["sector"] == "manufacturing" for r in rows)

"""`tokenops reconcile` after demo traffic (SQLite and PostgreSQL): no differences, every tenant that used tokens
has charges on its invoice that add up to its total with the remainder carried, the ledger verifies; then a usage
record edited behind the ledger's back and a charge removed are each found, listed and make it exit 1. The admin
endpoint keeps a tenant admin to its own tenant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL
from tokenops.cli.main import main
from tokenops.store.backing import Backing

PERIOD = datetime.now(UTC).strftime("%Y-%m")
TENANTS = ("acme-manufacturing", "cn-gov-energy", "nova-tutor", "ringback-app")


@pytest.fixture(params=["sqlite", "postgres"])
def traffic(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Gateway, Backing | None]]:
    """A gateway that has served a few seconds of the demo's mixed traffic, its usage drained to the store."""
    backing = None
    if request.param == "postgres":
        backing = Backing(request.getfixturevalue("pg_database"), REDIS_URL, request.getfixturevalue("pg_schema"),
                          request.getfixturevalue("redis_prefix"))  # fmt: skip
        monkeypatch.setenv("TOKENOPS_DATABASE_SCHEMA", backing.schema or "")
    gw = start_gateway(demo_catalog(), tmp_path / "home", backing=backing)
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")
    try:
        assert main(["demo", "traffic", "--url", gw.url, "--duration", "3", "--agents", "2"]) == 0
        gw.server.call(gw.state.sink.drain())
        yield gw, backing
    finally:
        gw.server.stop()


def _store_args(gw: Gateway, backing: Backing | None) -> list[str]:
    if backing is not None and backing.database_url:
        return ["--database-url", backing.database_url]
    return ["--home", str(gw.home)]


def _reconcile(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["reconcile", "--period", PERIOD, "--json", *args])
    return code, orjson.loads(capsys.readouterr().out)


def test_demo_traffic_reconciles_with_no_differences_and_positive_invoices(
    traffic: tuple[Gateway, Backing | None], capsys: pytest.CaptureFixture[str]
) -> None:
    gw, backing = traffic
    code, doc = _reconcile(capsys, "--url", gw.url)
    assert code == 0 and doc["ok"] and doc["differences"] == [], doc["differences"]
    assert doc["tokens_served"] == doc["tokens_charged"] > 0 and doc["charged"] == doc["rerated"]
    assert _reconcile(capsys, *_store_args(gw, backing)) == (0, doc)  # the same from the store, without the API
    used = {r["tenant_id"] for r in _records(gw, backing) if r["input_tokens"] + r["output_tokens"] > 0}
    assert used == set(TENANTS)
    for tenant in used:
        assert main(["invoice", "--tenant", tenant, "--period", PERIOD, "--json", "--url", gw.url]) == 0
        invoice = orjson.loads(capsys.readouterr().out)
        exact = sum(Decimal(r["exact"]) for r in invoice["rows"])
        carried = Decimal(invoice["rounding_carried_in"]), Decimal(invoice["rounding_carried_out"])
        assert exact > 0 and abs(carried[1]) < Decimal("0.005"), (tenant, invoice)  # a few seconds may bill 0.00
        assert Decimal(invoice["subtotal"]) == carried[0] + exact - carried[1]  # and what it leaves is carried
    assert main(["ledger", "verify", "--url", gw.url]) == 0
    capsys.readouterr()
    assert main(["reconcile", "--period", PERIOD, "--url", gw.url]) == 0
    assert f"reconcile {PERIOD}: no differences" in capsys.readouterr().out


def _records(gw: Gateway, backing: Backing | None) -> list[dict[str, Any]]:
    if backing is None:
        return gw.records()
    return [asdict(r) for r in gw.server.call(gw.state.store.usage_records(None))]


def _sql(gw: Gateway, backing: Backing | None, *statements: str) -> None:
    if backing is None:
        import sqlite3  # noqa: PLC0415 - only this test writes to the file behind the gateway's back

        db = sqlite3.connect(gw.home / "tokenops.db")
        for s in statements:
            db.execute(s)
        db.commit()
        db.close()
        return
    import asyncpg  # noqa: PLC0415 - as above, for the PostgreSQL case

    async def run() -> None:
        conn = await asyncpg.connect(backing.database_url)
        try:
            await conn.execute(f'SET search_path TO "{backing.schema}"')
            for s in statements:
                await conn.execute(s)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_usage_record_edited_and_a_charge_removed_are_each_listed_and_exit_1(
    traffic: tuple[Gateway, Backing | None], capsys: pytest.CaptureFixture[str]
) -> None:
    gw, backing = traffic
    served = [r for r in _records(gw, backing) if r["tenant_id"] == "ringback-app" and r["output_tokens"] > 0]
    edited, removed = served[0]["request_id"], served[1]["request_id"]
    _sql(gw, backing,
         f"UPDATE usage_records SET output_tokens = output_tokens + 1000 WHERE request_id = '{edited}'",
         f"DELETE FROM ledger_entries WHERE request_id = '{removed}' AND kind = 'charge'")  # fmt: skip
    code, doc = _reconcile(capsys, *_store_args(gw, backing))
    assert code == 1 and not doc["ok"]
    checks = {(d["check"], d["tenant"]) for d in doc["differences"]}
    assert {("served_not_charged", "ringback-app"), ("tokens", "ringback-app"), ("money", "ringback-app")} <= checks
    assert {t for _, t in checks} == {"ringback-app"}  # the other tenants still reconcile
    assert any(removed in d["detail"] for d in doc["differences"] if d["check"] == "served_not_charged")
    capsys.readouterr()
    assert main(["reconcile", "--period", PERIOD, "--tenant", "ringback-app", *_store_args(gw, backing)]) == 1
    out = capsys.readouterr().out
    assert "served_not_charged: ringback-app" in out and "differences" in out.splitlines()[-1]
    assert main(["reconcile", "--period", PERIOD, "--tenant", "acme-manufacturing", "--url", gw.url]) == 0


def test_the_reconcile_endpoint_keeps_a_tenant_admin_to_its_tenant_and_says_what_is_wrong(gateway: Gateway) -> None:
    tenant = {"Authorization": "Bearer adm-demo-acme"}
    ok = httpx.get(gateway.url + "/admin/reconcile", params={"tenant": "acme-manufacturing"}, headers=tenant)
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert httpx.get(gateway.url + "/admin/reconcile", params={"tenant": "ringback-app"},
                     headers=tenant).status_code in (403, 404)  # fmt: skip
    assert httpx.get(gateway.url + "/admin/reconcile", headers=tenant).status_code == 403
    bad = httpx.get(gateway.url + "/admin/reconcile", params={"period": "2026-13x"},
                    headers={"Authorization": "Bearer adm-demo-operator"})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "period"

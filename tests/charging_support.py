"""Helpers for the charging tests: a priced catalog and a ledger check against a gateway's store."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.verify import Problem, verify_ledger
from tokenops.store import SQLiteStore


def priced_catalog(data: dict[str, Any], balance: str = "10.00", **simulate: Any) -> dict[str, Any]:
    """The demo catalog with tele-lite priced high enough that every request costs whole fen.

    Rate limits and extraction policies are left out: these tests load one tenant on purpose.
    """
    data.pop("limits", None)
    data.pop("policies", None)
    data["prices"]["versions"][0]["models"]["tele-lite"] = {"input": "1000", "output": "2000"}
    for account in data["accounts"]:
        if account["tenant"] == "ringback-app":
            account["balance"] = balance
    for dep in data["deployments"]:
        if dep["model"] == "tele-lite" and simulate:
            dep["simulate"] = dict(simulate)
    return data


async def _verify(home: Path) -> list[Problem]:
    store = SQLiteStore(home / "tokenops.db")
    await store.open()
    try:
        ledger = ChargingSQLite(store)
        catalog = await store.load_catalog()
        sectors = {t.id: t.sector for t in catalog.tenants.values()}
        found = await verify_ledger(ledger, await store.usage_records(), sectors, int(time.time() * 1000))
        return found.problems
    finally:
        await store.close()


def charges(home: Path) -> dict[str, int]:
    """Each request's charge in the gateway's ledger, in accounting units, by request id."""
    db = sqlite3.connect(home / "tokenops.db")
    try:
        return dict(db.execute("SELECT request_id, -amount_units FROM ledger_entries WHERE kind = 'charge'"))
    finally:
        db.close()


def verify(home: Path) -> list[Problem]:
    return asyncio.run(_verify(home))


async def _service(home: Path) -> tuple[SQLiteStore, ChargingService]:
    store = SQLiteStore(home / "tokenops.db")
    await store.open()
    service = ChargingService(ChargingSQLite(store))
    await service.start(None)
    return store, service


def balances(home: Path) -> dict[str, int]:
    async def run() -> dict[str, int]:
        store, service = await _service(home)
        try:
            return {a.id: a.balance for a in service.credit.accounts.values()}
        finally:
            await store.close()

    return asyncio.run(run())

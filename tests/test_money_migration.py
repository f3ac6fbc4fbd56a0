"""Migration 0003 on a database the landed release made: amounts from fen to millionths, hash chains intact.

`tests/data/landed-0002.db.gz` is the gateway's SQLite file as the release before accounting
units left it (revision 0002): `make run` of that release, `tokenops demo traffic --duration 15`,
a top-up of 12.34 to ringback-app, a SIGTERM. Its figures, read then with that release's CLI
(`tokenops invoice … --json`, `tokenops ledger verify`), are the expectations here. The same
rows are loaded into a PostgreSQL schema at revision 0002 for the PostgreSQL half.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command

from tokenops import migrations
from tokenops.charging.invoice import build_invoice
from tokenops.charging.ledger import Entry
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.store import ChargingStore
from tokenops.charging.verify import Verification, verify_ledger
from tokenops.store import SQLiteStore, Store
from tokenops.store.backing import Backing
from tokenops.store.postgres import PostgresStore

FIXTURE = Path(__file__).parent / "data" / "landed-0002.db.gz"
PERIOD = "2026-12"  # when the fixture's traffic ran
# what the landed release showed: balances in fen, invoice (subtotal, total) per tenant
BALANCES_FEN = {"acme-manufacturing": 480_100, "cn-gov-energy": 0, "ringback-app": 101_234}
LIMITS_FEN = {"acme-manufacturing": 0, "cn-gov-energy": 20_000_000, "ringback-app": 0}
INVOICES = {"acme-manufacturing": ("199.00", "210.94"), "cn-gov-energy": ("0.00", "0.00"),
            "ringback-app": ("0.00", "0.00")}  # fmt: skip
ENTRIES = 313
# the tables the landed release's gateway wrote that carry what the checks read
TABLES = ("catalog_objects", "charging_config", "accounts", "ledger_entries", "package_grants", "reservations",
          "budget_alerts", "usage_records")  # fmt: skip


def landed_db(home: Path) -> Path:
    home.mkdir(parents=True)
    target = home / "tokenops.db"
    with gzip.open(FIXTURE) as src, target.open("wb") as out:
        shutil.copyfileobj(src, out)
    return target


def _invoice_totals(entries: list[Entry], service: ChargingService) -> dict[str, tuple[str, str]]:
    out = {}
    for tenant in INVOICES:
        inv = build_invoice(entries, tenant, PERIOD, service.config.currency, service.config.tax_rate)
        out[tenant] = (f"{inv.subtotal / 100:.2f}", f"{inv.total / 100:.2f}")
    return out


async def _check(store: Store, ledger: ChargingStore) -> dict[str, Any]:
    """Balances, invoices and the verification of the upgraded ledger, then the same after a new entry."""
    service = ChargingService(ledger)
    await service.start(None)
    catalog = await store.load_catalog()
    sectors = {t.id: t.sector for t in catalog.tenants.values()}
    entries = await ledger.entries()
    before: Verification = await verify_ledger(ledger, await store.usage_records(), sectors, int(time.time() * 1000))
    found = {
        "balances": {a.id: a.balance for a in service.credit.accounts.values()},
        "limits": {a.id: a.limit for a in service.credit.accounts.values()},
        "digits": sorted({e.hashed_digits for e in entries}),
        "entries": len(entries),
        "invoices": _invoice_totals(entries, service),
        "problems": [str(p) for p in before.problems],
    }
    await service.topup("ringback-app", 1_234_567, "after-upgrade")  # 1.234567: a unit finer than the fen
    after = await verify_ledger(ledger, await store.usage_records(), sectors, int(time.time() * 1000))
    found["problems_after_new_entry"] = [str(p) for p in after.problems]
    found["ringback_after"] = service.credit.accounts["ringback-app"].balance
    return found


def _expect(found: dict[str, Any]) -> None:
    assert found["entries"] == ENTRIES
    assert found["balances"] == {k: v * 10_000 for k, v in BALANCES_FEN.items()}
    assert found["limits"] == {k: v * 10_000 for k, v in LIMITS_FEN.items()}
    assert found["digits"] == [2], "every migrated entry keeps the digits its hash was computed in"
    assert found["invoices"] == INVOICES
    assert found["problems"] == [] and found["problems_after_new_entry"] == []
    assert found["ringback_after"] == 101_234 * 10_000 + 1_234_567


def test_a_landed_sqlite_file_upgrades_with_its_balances_invoices_and_hash_chains(tmp_path: Path) -> None:
    db = landed_db(tmp_path / "home")
    old = sqlite3.connect(db)
    assert old.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002_reservation_owners",)
    old.close()
    migrations.upgrade(Backing(None), tmp_path / "home")

    async def run() -> dict[str, Any]:
        store = SQLiteStore(db)
        await store.open()
        try:
            return await _check(store, ChargingSQLite(store))
        finally:
            await store.close()

    _expect(asyncio.run(run()))


def test_an_edited_amount_in_a_migrated_entry_still_breaks_the_chain(tmp_path: Path) -> None:
    db = landed_db(tmp_path / "home")
    migrations.upgrade(Backing(None), tmp_path / "home")
    raw = sqlite3.connect(db)
    raw.execute("UPDATE ledger_entries SET amount_units = amount_units + 1 WHERE seq = (SELECT min(seq) "
                "FROM ledger_entries WHERE kind = 'topup')")  # fmt: skip
    raw.commit()
    raw.close()

    async def run() -> list[str]:
        store = SQLiteStore(db)
        await store.open()
        try:
            found = await verify_ledger(ChargingSQLite(store), await store.usage_records(), {}, int(time.time() * 1000))
            return [p.check for p in found.problems]
        finally:
            await store.close()

    assert "hash_chain" in asyncio.run(run())


async def _load_postgres(dsn: str, schema: str, db: Path) -> None:
    src = sqlite3.connect(db)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        for table in TABLES:
            names = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            rows = [tuple(v.decode() if isinstance(v, bytes) else v for v in r)
                    for r in src.execute(f"SELECT {', '.join(names)} FROM {table}")]  # fmt: skip
            if table == "usage_records":
                at = names.index("stream")
                rows = [(*r[:at], bool(r[at]), *r[at + 1 :]) for r in rows]
            marks = ", ".join(f"${i + 1}" for i in range(len(names)))
            override = " OVERRIDING SYSTEM VALUE" if table == "ledger_entries" else ""
            sql = f"INSERT INTO {table} ({', '.join(names)}){override} VALUES ({marks})"
            await conn.executemany(sql, rows)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('ledger_entries', 'seq'), max(seq)) FROM ledger_entries"
        )
    finally:
        await conn.close()
        src.close()


def test_a_landed_postgres_schema_upgrades_with_its_balances_invoices_and_hash_chains(
    tmp_path: Path, pg_database: str, pg_schema: str
) -> None:
    backing = Backing(pg_database, schema=pg_schema)
    command.upgrade(migrations.alembic_config(backing, tmp_path), "0002_reservation_owners")
    asyncio.run(_load_postgres(pg_database, pg_schema, landed_db(tmp_path / "home")))
    migrations.upgrade(backing, tmp_path)

    async def run() -> dict[str, Any]:
        store = PostgresStore(pg_database, pg_schema, pool_size=2)
        await store.open()
        try:
            return await _check(store, ChargingPostgres(store))
        finally:
            await store.close()

    _expect(asyncio.run(run()))

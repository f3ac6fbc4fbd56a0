"""The embedded charging store: its tables in the gateway's SQLite file, on the store's one thread.

Sharing the thread and connection lets a usage record and its charge commit in the same
transaction, so a served request has exactly one charge even across a crash.
"""

from __future__ import annotations

import operator
import secrets
import sqlite3
import time
from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson

from tokenops.charging.accounts import Account
from tokenops.charging.catalog import ChargingConfig
from tokenops.charging.ledger import GENESIS, Entry, FloorBreached, LedgerConflict
from tokenops.charging.packages import Grant, grant_meta, grant_of
from tokenops.charging.sqlite_queries import ChargingQueries
from tokenops.charging.store import HoldRow
from tokenops.charging.subscriptions import KEPT_MS, SUBSCRIPTION_COLUMNS, attach_plans, plan_sql
from tokenops.charging.voucher_sqlite import VoucherSQLite
from tokenops.store.base import USAGE_COLUMNS, UsageRecord
from tokenops.store.ops_schema import SQLITE_LEDGER_OUTBOX
from tokenops.store.sqlite import _INSERT_USAGE, SQLiteStore

_usage_row = operator.attrgetter(*USAGE_COLUMNS)

SCHEMA = """
CREATE TABLE IF NOT EXISTS charging_config (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, currency TEXT NOT NULL,
    limit_units INTEGER NOT NULL, balance_units INTEGER NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account_id TEXT NOT NULL, kind TEXT NOT NULL,
    amount_units INTEGER NOT NULL, idem_key TEXT NOT NULL UNIQUE, body_hash TEXT NOT NULL,
    request_id TEXT, created_ms INTEGER NOT NULL, meta TEXT NOT NULL, writer TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL, hashed_digits INTEGER NOT NULL DEFAULT 6
);
CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger_entries (account_id, seq);
CREATE INDEX IF NOT EXISTS ledger_by_account_time ON ledger_entries (account_id, created_ms);
CREATE INDEX IF NOT EXISTS ledger_by_kind_time ON ledger_entries (kind, created_ms);
CREATE TABLE IF NOT EXISTS package_grants (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, package_id TEXT NOT NULL, models TEXT NOT NULL,
    total INTEGER NOT NULL, used INTEGER NOT NULL, starts_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL, usable_until_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    request_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, amount_units INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, owner TEXT NOT NULL DEFAULT '', interim TEXT
);
CREATE TABLE IF NOT EXISTS plan_subscriptions (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, key_id TEXT, plan_id TEXT NOT NULL, terms TEXT NOT NULL,
    starts_ms INTEGER NOT NULL, ends_ms INTEGER
);
CREATE TABLE IF NOT EXISTS plan_allowances (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, subscription_id TEXT NOT NULL, models TEXT NOT NULL,
    total INTEGER NOT NULL, used INTEGER NOT NULL, starts_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL, usable_until_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS voucher_batches (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, amount_units INTEGER NOT NULL, package_id TEXT, currency TEXT NOT NULL,
    expires_ms INTEGER NOT NULL, tenants TEXT NOT NULL, tenant_kinds TEXT NOT NULL, count INTEGER NOT NULL,
    note TEXT NOT NULL, created_by TEXT NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vouchers (
    code_hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, batch_id TEXT NOT NULL, status TEXT NOT NULL,
    redeemed_by TEXT, redeemed_ms INTEGER, entry_key TEXT
);
CREATE INDEX IF NOT EXISTS vouchers_by_batch ON vouchers (batch_id);
CREATE TABLE IF NOT EXISTS voucher_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL, tenant_id TEXT NOT NULL, address TEXT NOT NULL, outcome TEXT NOT NULL, voucher_id TEXT
);
CREATE INDEX IF NOT EXISTS voucher_attempts_by_time ON voucher_attempts (at_ms);
CREATE TABLE IF NOT EXISTS verify_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, mode TEXT NOT NULL, through_seq INTEGER NOT NULL,
    usage_ms INTEGER NOT NULL, usage_id TEXT NOT NULL, entries INTEGER NOT NULL, usage_records INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS verify_heads (
    account_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL, balance_units INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS budget_alerts (
    budget_id TEXT NOT NULL, subject TEXT NOT NULL, period TEXT NOT NULL, threshold INTEGER NOT NULL,
    spent INTEGER NOT NULL, limit_value INTEGER NOT NULL, at_ms INTEGER NOT NULL,
    PRIMARY KEY (budget_id, subject, period, threshold)
);
"""

_INSERT_ENTRY = (
    "INSERT INTO ledger_entries (account_id, kind, amount_units, idem_key, body_hash, request_id, created_ms, meta, "
    "writer, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING"
)


class ChargingSQLite(ChargingQueries, VoucherSQLite):
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.writer = secrets.token_hex(8)
        # the last hash of each account's chain, trusted while the ledger's top seq is still `_top`
        # (no other writer appended since), so a batch need not look every account up again
        self._heads: dict[str, str] = {}
        self._top = -1

    async def open(self) -> None:
        await self._store.run(lambda db: db.executescript(SCHEMA + SQLITE_LEDGER_OUTBOX))

    async def seed(self, config: ChargingConfig, now_ms: int) -> None:
        await self._store.run(partial(self._seed, config, now_ms))

    def _seed(self, config: ChargingConfig, now_ms: int, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR IGNORE INTO charging_config VALUES (?, ?)",
                [(k, orjson.dumps(d, default=str)) for k, d in config.docs.items()],
            )
            entries = []
            for a in config.accounts.values():
                db.execute(
                    "INSERT OR IGNORE INTO accounts VALUES (?, ?, ?, ?, 0, ?)",
                    (a.id, a.type, a.currency, a.limit, now_ms),
                )
                if a.opening_balance:
                    entries.append(Entry(a.id, "topup", a.opening_balance, f"seed:{a.id}:opening", now_ms))
                for i, g in enumerate(a.packages):
                    product = config.packages[g.package]
                    grant = grant_of(product, f"{a.id}:seed:{i}", a.id, g.starts_ms or now_ms)
                    key = f"seed:{a.id}:package:{i}:{g.package}"
                    entries.append(Entry(a.id, "package_grant", -product.price, key, now_ms, None, grant_meta(grant)))
            self._append(db, entries, skip_existing=True)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._top = -1
            raise

    async def config_docs(self) -> dict[str, dict[str, Any]]:
        rows = await self._store.run(lambda db: db.execute("SELECT key, doc FROM charging_config").fetchall())
        return {k: orjson.loads(d) for k, d in rows}

    async def put_config(self, key: str, doc: dict[str, Any]) -> None:
        def put(db: sqlite3.Connection) -> None:
            with db:
                row = (key, orjson.dumps(doc, default=str))
                db.execute("INSERT OR REPLACE INTO charging_config VALUES (?, ?)", row)

        await self._store.run(put)

    async def set_limit(self, account_id: str, limit: int) -> None:
        def put(db: sqlite3.Connection) -> None:
            with db:
                db.execute("UPDATE accounts SET limit_units = ? WHERE id = ?", (limit, account_id))

        await self._store.run(put)

    async def accounts(self) -> dict[str, Account]:
        return await self._store.run(self._accounts)

    def _accounts(self, db: sqlite3.Connection) -> dict[str, Account]:
        accounts = {
            row[0]: Account(row[0], row[1], row[2], row[3], row[4])
            for row in db.execute("SELECT id, type, currency, limit_units, balance_units FROM accounts")
        }
        for row in db.execute("SELECT * FROM package_grants"):
            grant = Grant(row[0], row[1], row[2], tuple(orjson.loads(row[3])), *row[4:])
            if grant.account_id in accounts:
                accounts[grant.account_id].grants[grant.id] = grant
        subscriptions = db.execute(f"SELECT {SUBSCRIPTION_COLUMNS} FROM plan_subscriptions").fetchall()
        since = int(time.time() * 1000) - KEPT_MS  # older months' allowances matter to the ledger only
        allowances = db.execute("SELECT * FROM plan_allowances WHERE usable_until_ms > ?", (since,)).fetchall()
        attach_plans(accounts, subscriptions, allowances)
        return accounts

    async def append(self, entries: Sequence[Entry]) -> list[Entry]:
        return await self._store.run(partial(self._append_tx, list(entries)))

    def _append_tx(self, entries: list[Entry], db: sqlite3.Connection) -> list[Entry]:
        db.execute("BEGIN IMMEDIATE")
        try:
            stored = self._append(db, entries)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._top = -1
            raise
        return stored

    def _append(self, db: sqlite3.Connection, entries: list[Entry], skip_existing: bool = False) -> list[Entry]:
        """Inside a transaction: chain, insert and apply entries; skipped when their key exists with the same body.

        The common case (no key seen before) is one executemany; when any key exists the
        batch is redone entry by entry, so the chain only links entries actually stored.
        """
        if not entries:
            return []
        db.execute("SAVEPOINT append")
        heads = dict(self._heads)
        rows = self._chain(db, entries, cached=True)
        # the rows this statement inserted itself (the outbox trigger's rows are not counted)
        if db.executemany(_INSERT_ENTRY, rows).rowcount == len(rows):
            stored = entries
            self._top = db.execute("SELECT max(seq) FROM ledger_entries").fetchone()[0]
        else:
            db.execute("ROLLBACK TO append")
            self._heads, self._top = heads, -1
            stored = self._append_each(db, entries, skip_existing)
        db.execute("RELEASE append")
        deltas: dict[str, int] = defaultdict(int)
        debited = set()
        for e in stored:
            deltas[e.account_id] += e.amount
            if e.kind == "package_grant" or e.meta.get("packages"):
                self._apply(db, e)
            for sql, rows in plan_sql(e):
                db.executemany(sql, rows)
            if e.kind != "charge" and e.amount < 0:
                debited.add(e.account_id)
        db.executemany(
            "UPDATE accounts SET balance_units = balance_units + ? WHERE id = ?", [(d, a) for a, d in deltas.items()]
        )
        for account_id in debited:
            balance, limit = db.execute(
                "SELECT balance_units, limit_units FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()
            if balance < -limit:
                raise FloorBreached(f"account {account_id!r} would go {-(balance + limit)} units below its floor")
        return stored

    def _chain(self, db: sqlite3.Connection, entries: list[Entry], cached: bool = False) -> list[tuple[Any, ...]]:
        last: dict[str, str] = {}
        if cached:
            if db.execute("SELECT coalesce(max(seq), 0) FROM ledger_entries").fetchone()[0] != self._top:
                self._heads = {}
            last = self._heads
        rows = []
        for e in entries:
            if e.account_id not in last:
                row = db.execute(
                    "SELECT hash FROM ledger_entries WHERE account_id = ? ORDER BY seq DESC LIMIT 1", (e.account_id,)
                ).fetchone()
                last[e.account_id] = row[0] if row else GENESIS
            meta = e.meta_json()
            body = e.body_hash(meta)
            last[e.account_id] = e.chain(last[e.account_id], body)
            rows.append((e.account_id, e.kind, e.amount, e.idem_key, body, e.request_id, e.created_ms, meta.decode(),
                         self.writer, e.prev_hash, e.hash))  # fmt: skip
        return rows

    def _append_each(self, db: sqlite3.Connection, entries: list[Entry], skip_existing: bool) -> list[Entry]:
        stored = []
        for e in entries:
            [row] = self._chain(db, [e])
            if db.execute(_INSERT_ENTRY, row).rowcount == 0:
                sql = "SELECT body_hash, hashed_digits FROM ledger_entries WHERE idem_key = ?"
                found = db.execute(sql, (e.idem_key,)).fetchone()
                if found[0] != e.body_hash(None, found[1]) and not skip_existing:
                    raise LedgerConflict(e.idem_key)
                continue
            stored.append(e)
        return stored

    def _apply(self, db: sqlite3.Connection, e: Entry) -> None:
        if e.kind == "package_grant":
            m = e.meta
            db.execute(
                "INSERT INTO package_grants VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (m["grant_id"], e.account_id, m["package"], orjson.dumps(m["models"]), m["tokens"], m["starts_ms"],
                 m["expires_ms"], m["usable_until_ms"]),
            )  # fmt: skip
        elif e.kind == "charge" and e.meta.get("packages"):
            db.executemany(
                "UPDATE package_grants SET used = used + ? WHERE id = ?",
                [(n, g) for g, n in e.meta["packages"].items()],
            )

    async def settle(
        self, records: Sequence[UsageRecord], charges: Sequence[Entry], holds: Sequence[HoldRow], closed: Sequence[str]
    ) -> None:
        rows = [_usage_row(r) for r in records]
        await self._store.run(partial(self._settle, rows, list(charges), list(holds), list(closed)))

    def _settle(
        self, rows: list[tuple[Any, ...]], charges: list[Entry], holds: list[HoldRow], closed: list[str],
        db: sqlite3.Connection,
    ) -> None:  # fmt: skip
        db.execute("BEGIN IMMEDIATE")
        try:
            if holds:
                db.executemany(
                    "INSERT OR REPLACE INTO reservations (request_id, account_id, amount_units, expires_ms, "
                    "created_ms, owner, interim) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (h.request_id, h.account_id, h.amount, h.expires_ms, h.created_ms, self.writer, h.interim)
                        for h in holds
                    ],
                )
            db.executemany(_INSERT_USAGE, rows)
            self._append(db, charges)
            if closed:
                db.executemany("DELETE FROM reservations WHERE request_id = ?", [(r,) for r in closed])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._top = -1
            raise

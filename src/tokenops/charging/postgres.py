"""The scaled-out charging store: the ledger in PostgreSQL, shared by every gateway replica.

Ledger writes from all replicas take one transaction-level advisory lock, so entries get
their sequence numbers in commit order (a replica reading "entries after seq N" never
misses one committed late) and each account's hash chain has one writer at a time.
A usage record and its charge commit in the same transaction, as in the embedded store.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from tokenops.charging.accounts import Account
from tokenops.charging.catalog import ChargingConfig
from tokenops.charging.ledger import GENESIS, Entry, FloorBreached, LedgerConflict
from tokenops.charging.packages import Grant, grant_meta, grant_of
from tokenops.charging.postgres_queries import PostgresChargingQueries
from tokenops.charging.store import HoldRow
from tokenops.charging.subscriptions import KEPT_MS, SUBSCRIPTION_COLUMNS, attach_plans, plan_sql
from tokenops.charging.voucher_postgres import VoucherPostgres
from tokenops.store.base import UsageRecord
from tokenops.store.postgres import INSERT_USAGE, PostgresStore, usage_columns
from tokenops.store.postgres_schema import LOCK_LEDGER, NOW_MS

_COLS = "account_id, kind, amount_units, idem_key, body_hash, request_id, created_ms, meta, writer, prev_hash, hash"
_INSERT_ENTRIES = (
    f"INSERT INTO ledger_entries ({_COLS}) SELECT {_COLS} FROM unnest($1::text[], $2::text[], $3::bigint[], "
    "$4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[]) "
    f"WITH ORDINALITY AS t({_COLS}, ord) ORDER BY ord ON CONFLICT (idem_key) DO NOTHING RETURNING seq"
)
_INSERT_ONE = (
    f"INSERT INTO ledger_entries ({_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (idem_key) DO NOTHING RETURNING seq"
)


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's $1, $2, …"""
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


class ChargingPostgres(PostgresChargingQueries, VoucherPostgres):
    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.writer = secrets.token_hex(8)
        self._heads: dict[str, str] = {}  # each account's last hash, trusted while the top seq is `_top`
        self._top = -1

    @property
    def pool(self) -> asyncpg.Pool:
        return self._store.pool

    async def open(self) -> None:
        await self._store.open()

    async def seed(self, config: ChargingConfig, now_ms: int) -> None:
        docs = [(k, orjson.dumps(d, default=str).decode()) for k, d in config.docs.items()]
        accounts = [(a.id, a.type, a.currency, a.limit, now_ms) for a in config.accounts.values()]
        entries = []
        for a in config.accounts.values():
            if a.opening_balance:
                entries.append(Entry(a.id, "topup", a.opening_balance, f"seed:{a.id}:opening", now_ms))
            for i, g in enumerate(a.packages):
                product = config.packages[g.package]
                grant = grant_of(product, f"{a.id}:seed:{i}", a.id, g.starts_ms or now_ms)
                key = f"seed:{a.id}:package:{i}:{g.package}"
                entries.append(Entry(a.id, "package_grant", -product.price, key, now_ms, None, grant_meta(grant)))

        async def work(conn: asyncpg.Connection) -> None:
            await conn.executemany("INSERT INTO charging_config VALUES ($1, $2) ON CONFLICT DO NOTHING", docs)
            await conn.executemany(
                "INSERT INTO accounts VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING", accounts
            )
            await self._append(conn, entries, skip_existing=True)

        await self._locked(work)

    async def _locked(self, work: Any) -> Any:
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_LEDGER)
                    return await work(conn)
            except BaseException:
                self._top = -1
                raise

    async def config_docs(self) -> dict[str, dict[str, Any]]:
        return {k: orjson.loads(d) for k, d in await self.pool.fetch("SELECT key, doc FROM charging_config")}

    async def put_config(self, key: str, doc: dict[str, Any]) -> None:
        await self.pool.execute(
            "INSERT INTO charging_config VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
            key,
            orjson.dumps(doc, default=str).decode(),
        )

    async def set_limit(self, account_id: str, limit: int) -> None:
        await self.pool.execute("UPDATE accounts SET limit_units = $1 WHERE id = $2", limit, account_id)

    async def accounts(self) -> dict[str, Account]:
        async with self.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            rows = await conn.fetch("SELECT id, type, currency, limit_units, balance_units FROM accounts")
            grants = await conn.fetch("SELECT * FROM package_grants")
            subscriptions = await conn.fetch(f"SELECT {SUBSCRIPTION_COLUMNS} FROM plan_subscriptions")
            kept = f"SELECT * FROM plan_allowances WHERE usable_until_ms > {NOW_MS} - $1"  # older: the ledger's only
            allowances = await conn.fetch(kept, KEPT_MS)
        accounts = {r[0]: Account(r[0], r[1], r[2], r[3], r[4]) for r in rows}
        for row in grants:
            grant = Grant(row[0], row[1], row[2], tuple(orjson.loads(row[3])), *row[4:])
            if grant.account_id in accounts:
                accounts[grant.account_id].grants[grant.id] = grant
        attach_plans(accounts, list(subscriptions), list(allowances))
        return accounts

    async def append(self, entries: Sequence[Entry]) -> list[Entry]:
        stored: list[Entry] = await self._locked(lambda conn: self._append(conn, list(entries)))
        return stored

    async def _append(self, conn: asyncpg.Connection, entries: list[Entry], skip_existing: bool = False) -> list[Entry]:
        """Chain, insert and apply; one multi-row insert unless a key exists, then entry by entry."""
        if not entries:
            return []
        heads = dict(self._heads)
        rows = await self._chain(conn, entries, cached=True)
        savepoint = conn.transaction()
        await savepoint.start()
        seqs = await conn.fetch(_INSERT_ENTRIES, *[list(c) for c in zip(*rows, strict=True)])
        if len(seqs) == len(rows):
            await savepoint.commit()
            stored = entries
            self._top = max(r[0] for r in seqs)
        else:
            await savepoint.rollback()
            self._heads, self._top = heads, -1
            stored = await self._append_each(conn, entries, skip_existing)
        deltas: dict[str, int] = defaultdict(int)
        debited = set()
        for e in stored:
            deltas[e.account_id] += e.amount
            if e.kind == "package_grant" or e.meta.get("packages"):
                await self._apply(conn, e)
            for sql, args in plan_sql(e):
                await conn.executemany(numbered(sql), args)
            if e.kind != "charge" and e.amount < 0:
                debited.add(e.account_id)
        await conn.execute(
            "UPDATE accounts SET balance_units = balance_units + u.d "
            "FROM unnest($1::text[], $2::bigint[]) AS u(id, d) WHERE accounts.id = u.id",
            list(deltas),
            list(deltas.values()),
        )
        for account_id in debited:
            row = await conn.fetchrow("SELECT balance_units, limit_units FROM accounts WHERE id = $1", account_id)
            if row is not None and row[0] < -row[1]:
                raise FloorBreached(f"account {account_id!r} would go {-(row[0] + row[1])} units below its floor")
        return stored

    async def _chain(
        self, conn: asyncpg.Connection, entries: list[Entry], cached: bool = False
    ) -> list[tuple[Any, ...]]:
        last: dict[str, str] = {}
        if cached:
            if await conn.fetchval("SELECT coalesce(max(seq), 0) FROM ledger_entries") != self._top:
                self._heads = {}
            last = self._heads
        missing = sorted({e.account_id for e in entries} - set(last))
        if missing:
            found = await conn.fetch(  # one index probe per account: the chain's head, not the whole chain
                "SELECT a.id, e.hash FROM unnest($1::text[]) AS a(id) CROSS JOIN LATERAL "
                "(SELECT hash FROM ledger_entries WHERE account_id = a.id ORDER BY seq DESC LIMIT 1) AS e",
                missing,
            )
            last.update({a: GENESIS for a in missing})
            last.update({r[0]: r[1] for r in found})
        rows = []
        for e in entries:
            meta = e.meta_json()
            body = e.body_hash(meta)
            last[e.account_id] = e.chain(last[e.account_id], body)
            rows.append((e.account_id, e.kind, e.amount, e.idem_key, body, e.request_id, e.created_ms, meta.decode(),
                         self.writer, e.prev_hash, e.hash))  # fmt: skip
        return rows

    async def _append_each(self, conn: asyncpg.Connection, entries: list[Entry], skip_existing: bool) -> list[Entry]:
        stored = []
        for e in entries:
            [row] = await self._chain(conn, [e])
            if await conn.fetchval(_INSERT_ONE, *row) is None:
                sql = "SELECT body_hash, hashed_digits FROM ledger_entries WHERE idem_key = $1"
                found = await conn.fetchrow(sql, e.idem_key)
                if found[0] != e.body_hash(None, found[1]) and not skip_existing:
                    raise LedgerConflict(e.idem_key)
                continue
            stored.append(e)
        return stored

    async def _apply(self, conn: asyncpg.Connection, e: Entry) -> None:
        if e.kind == "package_grant":
            m = e.meta
            await conn.execute(
                "INSERT INTO package_grants VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8)",
                m["grant_id"], e.account_id, m["package"], orjson.dumps(m["models"]).decode(), m["tokens"],
                m["starts_ms"], m["expires_ms"], m["usable_until_ms"],
            )  # fmt: skip
        elif e.kind == "charge" and e.meta.get("packages"):
            await conn.executemany(
                "UPDATE package_grants SET used = used + $1 WHERE id = $2",
                [(n, g) for g, n in e.meta["packages"].items()],
            )

    async def settle(
        self, records: Sequence[UsageRecord], charges: Sequence[Entry], holds: Sequence[HoldRow], closed: Sequence[str]
    ) -> None:
        async def work(conn: asyncpg.Connection) -> None:
            if holds:
                await conn.execute(
                    "INSERT INTO reservations (request_id, account_id, amount_units, expires_ms, created_ms, owner, "
                    "interim) SELECT r, a, m, e, c, $6::text, i FROM unnest($1::text[], $2::text[], $3::bigint[], "
                    "$4::bigint[], $5::bigint[], $7::text[]) AS u(r, a, m, e, c, i) ON CONFLICT (request_id) DO "
                    "UPDATE SET amount_units = excluded.amount_units, expires_ms = excluded.expires_ms, "
                    "owner = excluded.owner, interim = excluded.interim",
                    *[list(c) for c in zip(*[(h.request_id, h.account_id, h.amount, h.expires_ms, h.created_ms)
                                             for h in holds], strict=True)], self.writer, [h.interim for h in holds],
                )  # fmt: skip
            if records:
                await conn.execute(INSERT_USAGE, *usage_columns(records))
            await self._append(conn, list(charges))
            if closed:
                await conn.execute("DELETE FROM reservations WHERE request_id = ANY($1::text[])", list(closed))

        await self._locked(work)

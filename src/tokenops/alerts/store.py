"""Alerts, their deliveries and small marks (crossing states, leases) in the gateway's database.

An alert is stored once per key (a second emit of the same key changes nothing), with a pending
delivery for each webhook that wants it, in one transaction. On PostgreSQL alerts are numbered
under an advisory lock, so each webhook's deliveries go out in the order the alerts were made.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from tokenops.alerts.model import Alert
from tokenops.store import SQLiteStore
from tokenops.store.postgres import PostgresStore

LOCK_ALERTS = 0x746F6B03
_DELIVERY = "webhook, alert_seq, status, attempts, next_ms, last_status, last_error, delivered_ms"
_PENDING = "pending"
_WAITING = "SELECT alert_seq FROM alert_deliveries WHERE status = 'pending'"  # alerts a webhook still waits for


def _alert(row: Sequence[Any]) -> Alert:
    seq, key, kind, tenant, at_ms, payload = row
    return Alert(seq, key, kind, tenant, at_ms, orjson.loads(payload))


def _delivery(row: Sequence[Any]) -> dict[str, Any]:
    names = ("webhook", "alert", "status", "attempts", "next_ms", "last_status", "last_error", "delivered_ms")
    return dict(zip(names, row, strict=True))


class AlertStore(Protocol):
    async def emit(self, alert: Alert, webhooks: Sequence[str]) -> Alert | None:
        """Store the alert (its seq given here) with a pending delivery per webhook; None if its key exists."""

    async def mark(self, key: str, expect: str | None, value: str, until_ms: int, now_ms: int) -> bool:
        """Set a mark from `expect` (None: absent or expired) to `value`; False if it held something else."""

    async def get_mark(self, key: str, now_ms: int) -> str | None: ...

    async def due(self, webhook: str, limit: int) -> list[tuple[Alert, int, int]]:
        """The webhook's first undelivered alerts in order, each with its attempts so far and next attempt time."""

    async def result(
        self, webhook: str, seq: int, status: str, code: int | None, error: str | None, next_ms: int, now_ms: int
    ) -> None: ...

    async def alerts(self, tenant: str | None, limit: int) -> list[Alert]: ...

    async def deliveries(self, webhook: str | None, tenant: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def requeue(self, webhook: str, from_seq: int, to_seq: int, now_ms: int) -> int:
        """Deliver these alerts to the webhook again (replay), in order, from now."""

    async def prune(self, before_ms: int) -> int:
        """Forget alerts raised before `before_ms` that no webhook still waits for, with their deliveries."""


class SQLiteAlerts:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def _tx(self, fn: Any) -> Any:
        def run(db: sqlite3.Connection) -> Any:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return out

        return await self._store.run(run)

    async def emit(self, alert: Alert, webhooks: Sequence[str]) -> Alert | None:
        def write(db: sqlite3.Connection) -> Alert | None:
            cur = db.execute(
                "INSERT INTO alerts (key, kind, tenant_id, at_ms, payload) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (alert.key, alert.kind, alert.tenant, alert.at_ms, orjson.dumps(alert.payload).decode()),
            )
            if cur.rowcount == 0:
                return None
            seq = int(cur.lastrowid or 0)
            db.executemany(f"INSERT INTO alert_deliveries ({_DELIVERY}) VALUES (?, ?, ?, 0, ?, NULL, NULL, NULL)",
                           [(w, seq, _PENDING, alert.at_ms) for w in webhooks])  # fmt: skip
            return Alert(seq, alert.key, alert.kind, alert.tenant, alert.at_ms, alert.payload)

        found: Alert | None = await self._tx(write)
        return found

    async def mark(self, key: str, expect: str | None, value: str, until_ms: int, now_ms: int) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            if expect is None:
                db.execute("DELETE FROM alert_marks WHERE key = ? AND until_ms < ?", (key, now_ms))
                added = db.execute("INSERT OR IGNORE INTO alert_marks VALUES (?, ?, ?)", (key, value, until_ms))
                return added.rowcount == 1
            sql = "UPDATE alert_marks SET value = ?, until_ms = ? WHERE key = ? AND value = ? AND until_ms >= ?"
            return db.execute(sql, (value, until_ms, key, expect, now_ms)).rowcount == 1

        ok: bool = await self._tx(write)
        return ok

    async def get_mark(self, key: str, now_ms: int) -> str | None:
        row = await self._store.run(lambda db: db.execute(
            "SELECT value FROM alert_marks WHERE key = ? AND until_ms >= ?", (key, now_ms)).fetchone())  # fmt: skip
        return str(row[0]) if row else None

    async def due(self, webhook: str, limit: int) -> list[tuple[Alert, int, int]]:
        sql = ("SELECT a.seq, a.key, a.kind, a.tenant_id, a.at_ms, a.payload, d.attempts, d.next_ms "
               "FROM alert_deliveries d JOIN alerts a ON a.seq = d.alert_seq "
               "WHERE d.webhook = ? AND d.status = 'pending' ORDER BY d.alert_seq LIMIT ?")  # fmt: skip
        rows = await self._store.run(lambda db: db.execute(sql, (webhook, limit)).fetchall())
        return [(_alert(r[:6]), r[6], r[7]) for r in rows]

    async def result(
        self, webhook: str, seq: int, status: str, code: int | None, error: str | None, next_ms: int, now_ms: int
    ) -> None:
        sql = ("UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, next_ms = ?, last_status = ?, "
               "last_error = ?, delivered_ms = ? WHERE webhook = ? AND alert_seq = ?")  # fmt: skip
        delivered = now_ms if status == "delivered" else None
        await self._tx(lambda db: db.execute(sql, (status, next_ms, code, error, delivered, webhook, seq)))

    async def alerts(self, tenant: str | None, limit: int) -> list[Alert]:
        where, args = (" WHERE tenant_id = ?", (tenant, limit)) if tenant is not None else ("", (limit,))
        sql = f"SELECT seq, key, kind, tenant_id, at_ms, payload FROM alerts{where} ORDER BY seq DESC LIMIT ?"
        return [_alert(r) for r in await self._store.run(lambda db: db.execute(sql, args).fetchall())]

    async def deliveries(self, webhook: str | None, tenant: str | None, limit: int) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join('d.' + c.strip() for c in _DELIVERY.split(','))} FROM alert_deliveries d " \
              "JOIN alerts a ON a.seq = d.alert_seq WHERE (? IS NULL OR d.webhook = ?) AND " \
              "(? IS NULL OR a.tenant_id = ?) ORDER BY d.alert_seq DESC LIMIT ?"  # fmt: skip
        args = (webhook, webhook, tenant, tenant, limit)
        return [_delivery(r) for r in await self._store.run(lambda db: db.execute(sql, args).fetchall())]

    async def requeue(self, webhook: str, from_seq: int, to_seq: int, now_ms: int) -> int:
        sql = ("UPDATE alert_deliveries SET status = 'pending', next_ms = ? WHERE webhook = ? AND alert_seq >= ? "
               "AND alert_seq <= ?")  # fmt: skip
        count: int = await self._tx(lambda db: db.execute(sql, (now_ms, webhook, from_seq, to_seq)).rowcount)
        return count

    async def prune(self, before_ms: int) -> int:
        def delete(db: sqlite3.Connection) -> int:
            old = f"SELECT seq FROM alerts WHERE at_ms < ? AND seq NOT IN ({_WAITING})"
            db.execute(f"DELETE FROM alert_deliveries WHERE alert_seq IN ({old})", (before_ms,))
            return db.execute(f"DELETE FROM alerts WHERE seq IN ({old})", (before_ms,)).rowcount

        count: int = await self._tx(delete)
        return count


class PostgresAlerts:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def emit(self, alert: Alert, webhooks: Sequence[str]) -> Alert | None:
        async with self._store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ALERTS)
            seq = await conn.fetchval(
                "INSERT INTO alerts (key, kind, tenant_id, at_ms, payload) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (key) DO NOTHING RETURNING seq",
                alert.key, alert.kind, alert.tenant, alert.at_ms, orjson.dumps(alert.payload).decode(),
            )  # fmt: skip
            if seq is None:
                return None
            await conn.executemany(
                f"INSERT INTO alert_deliveries ({_DELIVERY}) VALUES ($1, $2, $3, 0, $4, NULL, NULL, NULL)",
                [(w, seq, _PENDING, alert.at_ms) for w in webhooks],
            )
        return Alert(int(seq), alert.key, alert.kind, alert.tenant, alert.at_ms, alert.payload)

    async def mark(self, key: str, expect: str | None, value: str, until_ms: int, now_ms: int) -> bool:
        pool = self._store.pool
        if expect is None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("DELETE FROM alert_marks WHERE key = $1 AND until_ms < $2", key, now_ms)
                done = await conn.execute(
                    "INSERT INTO alert_marks VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", key, value, until_ms
                )
            return bool(done == "INSERT 0 1")
        done = await pool.execute(
            "UPDATE alert_marks SET value = $1, until_ms = $2 WHERE key = $3 AND value = $4 AND until_ms >= $5",
            value, until_ms, key, expect, now_ms,
        )  # fmt: skip
        return bool(done == "UPDATE 1")

    async def get_mark(self, key: str, now_ms: int) -> str | None:
        found = await self._store.pool.fetchval(
            "SELECT value FROM alert_marks WHERE key = $1 AND until_ms >= $2", key, now_ms
        )
        return None if found is None else str(found)

    async def due(self, webhook: str, limit: int) -> list[tuple[Alert, int, int]]:
        rows = await self._store.pool.fetch(
            "SELECT a.seq, a.key, a.kind, a.tenant_id, a.at_ms, a.payload, d.attempts, d.next_ms "
            "FROM alert_deliveries d JOIN alerts a ON a.seq = d.alert_seq "
            "WHERE d.webhook = $1 AND d.status = 'pending' ORDER BY d.alert_seq LIMIT $2",
            webhook, limit,
        )  # fmt: skip
        return [(_alert(tuple(r)[:6]), r[6], r[7]) for r in rows]

    async def result(
        self, webhook: str, seq: int, status: str, code: int | None, error: str | None, next_ms: int, now_ms: int
    ) -> None:
        await self._store.pool.execute(
            "UPDATE alert_deliveries SET status = $1, attempts = attempts + 1, next_ms = $2, last_status = $3, "
            "last_error = $4, delivered_ms = $5 WHERE webhook = $6 AND alert_seq = $7",
            status, next_ms, code, error, now_ms if status == "delivered" else None, webhook, seq,
        )  # fmt: skip

    async def alerts(self, tenant: str | None, limit: int) -> list[Alert]:
        rows = await self._store.pool.fetch(
            "SELECT seq, key, kind, tenant_id, at_ms, payload FROM alerts WHERE ($1::text IS NULL OR tenant_id = $1) "
            "ORDER BY seq DESC LIMIT $2",
            tenant, limit,
        )  # fmt: skip
        return [_alert(tuple(r)) for r in rows]

    async def deliveries(self, webhook: str | None, tenant: str | None, limit: int) -> list[dict[str, Any]]:
        rows = await self._store.pool.fetch(
            f"SELECT {', '.join('d.' + c.strip() for c in _DELIVERY.split(','))} FROM alert_deliveries d "
            "JOIN alerts a ON a.seq = d.alert_seq WHERE ($1::text IS NULL OR d.webhook = $1) AND "
            "($2::text IS NULL OR a.tenant_id = $2) ORDER BY d.alert_seq DESC LIMIT $3",
            webhook, tenant, limit,
        )  # fmt: skip
        return [_delivery(tuple(r)) for r in rows]

    async def requeue(self, webhook: str, from_seq: int, to_seq: int, now_ms: int) -> int:
        done = await self._store.pool.execute(
            "UPDATE alert_deliveries SET status = 'pending', next_ms = $1 WHERE webhook = $2 AND alert_seq >= $3 "
            "AND alert_seq <= $4",
            now_ms, webhook, from_seq, to_seq,
        )  # fmt: skip
        return int(done.split()[-1])

    async def prune(self, before_ms: int) -> int:
        async with self._store.pool.acquire() as conn, conn.transaction():
            old = f"SELECT seq FROM alerts WHERE at_ms < $1 AND seq NOT IN ({_WAITING})"
            await conn.execute(f"DELETE FROM alert_deliveries WHERE alert_seq IN ({old})", before_ms)
            done = await conn.execute(f"DELETE FROM alerts WHERE seq IN ({old})", before_ms)
        return int(done.split()[-1])


def alert_store_for(store: object) -> AlertStore:
    if isinstance(store, SQLiteStore):
        return SQLiteAlerts(store)
    if isinstance(store, PostgresStore):
        return PostgresAlerts(store)
    raise TypeError(f"no alert store for {type(store).__name__}")

"""The relay's side of the outbox, on SQLite and PostgreSQL: read what follows a position (with the rows it
names), and keep each sink's position with a lease, so one replica at a time publishes.

A position moves only forward, and only by the replica holding the sink's lease; a replica that
lost its lease finds its update refused and stops (the next holder goes on from the stored position).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tokenops.store import SQLiteStore
from tokenops.store.base import USAGE_COLUMNS
from tokenops.store.postgres import PostgresStore

LEDGER_COLUMNS = ("seq", "account_id", "kind", "amount_units", "idem_key", "request_id", "created_ms", "meta",
                  "writer", "prev_hash", "hash", "currency")  # fmt: skip
_LEDGER_SELECT = (
    "SELECT e.seq, e.account_id, e.kind, e.amount_units, e.idem_key, e.request_id, e.created_ms, e.meta, e.writer, "
    "e.prev_hash, e.hash, a.currency FROM ledger_entries e LEFT JOIN accounts a ON a.id = e.account_id"
)
_USAGE_SELECT = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records"
Item = tuple[int, str, dict[str, Any] | None]  # position, kind, the row it names (None: gone)


@dataclass(frozen=True, slots=True)
class SinkStatus:
    sink: str
    position: int
    head: int  # the newest position in the outbox
    lag: int  # events written and not yet published
    oldest_unpublished_ms: int | None
    owner: str
    lease_until_ms: int
    published: int
    error: str | None
    updated_ms: int


class Outbox(Protocol):
    async def batch(self, after: int, limit: int) -> list[Item]:
        """The outbox rows after position `after`, in order, each with the record or entry it names."""

    async def claim(self, sink: str, owner: str, now_ms: int, lease_ms: int) -> int | None:
        """Take (or renew) the sink's lease; its position when held, None while another holds it."""

    async def advance(self, sink: str, owner: str, position: int, count: int, now_ms: int, lease_ms: int) -> bool:
        """Move the sink to `position` (`count` more published) and renew the lease; False: the lease was lost."""

    async def failed(self, sink: str, owner: str, error: str, now_ms: int) -> None: ...

    async def rewind(self, sink: str, position: int) -> None:
        """Publish again from `position` (the stream de-duplicates what it still remembers)."""

    async def status(self) -> list[SinkStatus]: ...

    async def prune(self, before_ms: int, limit: int = 10_000) -> int:
        """Delete outbox rows older than `before_ms` that every sink has published (all, when no sink exists)."""


def _rows(columns: Sequence[str], found: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r, strict=True)) for r in found]


def _items(
    head: Sequence[tuple[int, str, str]], usage: list[dict[str, Any]], ledger: list[dict[str, Any]]
) -> list[Item]:
    by_request = {r["request_id"]: r for r in usage}
    by_seq = {str(r["seq"]): r for r in ledger}
    return [(pos, kind, (by_request if kind == "usage" else by_seq).get(ref)) for pos, kind, ref in head]


def _status(row: Sequence[Any], head: int, oldest: int | None) -> SinkStatus:
    sink, position, owner, lease, published, error, updated = row
    return SinkStatus(sink, position, head, max(0, head - position), oldest, owner, lease, published, error, updated)


class SQLiteOutbox:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def batch(self, after: int, limit: int) -> list[Item]:
        def read(db: sqlite3.Connection) -> list[Item]:
            head = db.execute("SELECT pos, kind, ref FROM export_outbox WHERE pos > ? ORDER BY pos LIMIT ?",
                              (after, limit)).fetchall()  # fmt: skip
            usage_ids = [ref for _, kind, ref in head if kind == "usage"]
            seqs = [int(ref) for _, kind, ref in head if kind == "ledger"]
            usage = db.execute(f"{_USAGE_SELECT} WHERE request_id IN ({','.join('?' * len(usage_ids))})",
                               usage_ids).fetchall() if usage_ids else []  # fmt: skip
            ledger = db.execute(f"{_LEDGER_SELECT} WHERE e.seq IN ({','.join('?' * len(seqs))})",
                                seqs).fetchall() if seqs else []  # fmt: skip
            return _items(head, _rows(USAGE_COLUMNS, usage), _rows(LEDGER_COLUMNS, ledger))

        return await self._store.run(read)

    async def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        def write(db: sqlite3.Connection) -> int:
            with db:
                return db.execute(sql, args).rowcount

        return await self._store.run(write)

    async def claim(self, sink: str, owner: str, now_ms: int, lease_ms: int) -> int | None:
        await self._write("INSERT OR IGNORE INTO export_cursors VALUES (?, 0, '', 0, 0, NULL, ?)", (sink, now_ms))
        sql = ("UPDATE export_cursors SET owner = ?, lease_until_ms = ? WHERE sink = ? AND "
               "(owner = ? OR lease_until_ms < ?)")  # fmt: skip
        if not await self._write(sql, (owner, now_ms + lease_ms, sink, owner, now_ms)):
            return None
        rows = await self._store.run(
            lambda db: db.execute("SELECT position FROM export_cursors WHERE sink = ?", (sink,)).fetchone()
        )
        return int(rows[0])

    async def advance(self, sink: str, owner: str, position: int, count: int, now_ms: int, lease_ms: int) -> bool:
        sql = ("UPDATE export_cursors SET position = max(position, ?), published = published + ?, "
               "lease_until_ms = ?, error = NULL, updated_ms = ? WHERE sink = ? AND owner = ?")  # fmt: skip
        return bool(await self._write(sql, (position, count, now_ms + lease_ms, now_ms, sink, owner)))

    async def failed(self, sink: str, owner: str, error: str, now_ms: int) -> None:
        sql = "UPDATE export_cursors SET error = ?, updated_ms = ? WHERE sink = ? AND owner = ?"
        await self._write(sql, (error[:500], now_ms, sink, owner))

    async def rewind(self, sink: str, position: int) -> None:
        await self._write("UPDATE export_cursors SET position = ? WHERE sink = ?", (position, sink))

    async def status(self) -> list[SinkStatus]:
        def read(db: sqlite3.Connection) -> list[SinkStatus]:
            head = db.execute("SELECT coalesce(max(pos), 0) FROM export_outbox").fetchone()[0]
            out = []
            for row in db.execute("SELECT * FROM export_cursors ORDER BY sink").fetchall():
                found = db.execute("SELECT at_ms FROM export_outbox WHERE pos > ? ORDER BY pos LIMIT 1",
                                   (row[1],)).fetchone()  # fmt: skip
                out.append(_status(row, head, found[0] if found else None))
            return out

        return await self._store.run(read)

    async def prune(self, before_ms: int, limit: int = 10_000) -> int:
        sql = ("DELETE FROM export_outbox WHERE pos IN (SELECT pos FROM export_outbox WHERE at_ms < ? AND "
               "pos <= (SELECT coalesce(min(position), 9223372036854775807) FROM export_cursors) ORDER BY pos "
               "LIMIT ?)")  # fmt: skip
        return await self._write(sql, (before_ms, limit))


class PostgresOutbox:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def batch(self, after: int, limit: int) -> list[Item]:
        pool = self._store.pool
        head = [tuple(r) for r in await pool.fetch(
            "SELECT pos, kind, ref FROM export_outbox WHERE pos > $1 ORDER BY pos LIMIT $2", after, limit)]  # fmt: skip
        usage_ids = [ref for _, kind, ref in head if kind == "usage"]
        seqs = [int(ref) for _, kind, ref in head if kind == "ledger"]
        usage = await pool.fetch(f"{_USAGE_SELECT} WHERE request_id = ANY($1::text[])", usage_ids) if usage_ids else []
        ledger = await pool.fetch(f"{_LEDGER_SELECT} WHERE e.seq = ANY($1::bigint[])", seqs) if seqs else []
        return _items(head, [dict(r.items()) for r in usage], [dict(r.items()) for r in ledger])

    async def claim(self, sink: str, owner: str, now_ms: int, lease_ms: int) -> int | None:
        pool = self._store.pool
        await pool.execute(
            "INSERT INTO export_cursors VALUES ($1, 0, '', 0, 0, NULL, $2) ON CONFLICT DO NOTHING", sink, now_ms
        )
        position = await pool.fetchval(
            "UPDATE export_cursors SET owner = $1, lease_until_ms = $2 WHERE sink = $3 AND "
            "(owner = $1 OR lease_until_ms < $4) RETURNING position",
            owner, now_ms + lease_ms, sink, now_ms,
        )  # fmt: skip
        return None if position is None else int(position)

    async def advance(self, sink: str, owner: str, position: int, count: int, now_ms: int, lease_ms: int) -> bool:
        done = await self._store.pool.execute(
            "UPDATE export_cursors SET position = greatest(position, $1), published = published + $2, "
            "lease_until_ms = $3, error = NULL, updated_ms = $4 WHERE sink = $5 AND owner = $6",
            position, count, now_ms + lease_ms, now_ms, sink, owner,
        )  # fmt: skip
        return bool(done != "UPDATE 0")

    async def failed(self, sink: str, owner: str, error: str, now_ms: int) -> None:
        await self._store.pool.execute(
            "UPDATE export_cursors SET error = $1, updated_ms = $2 WHERE sink = $3 AND owner = $4",
            error[:500], now_ms, sink, owner,
        )  # fmt: skip

    async def rewind(self, sink: str, position: int) -> None:
        await self._store.pool.execute("UPDATE export_cursors SET position = $1 WHERE sink = $2", position, sink)

    async def status(self) -> list[SinkStatus]:
        pool = self._store.pool
        head = await pool.fetchval("SELECT coalesce(max(pos), 0) FROM export_outbox")
        out = []
        for row in await pool.fetch("SELECT * FROM export_cursors ORDER BY sink"):
            oldest = await pool.fetchval(
                "SELECT at_ms FROM export_outbox WHERE pos > $1 ORDER BY pos LIMIT 1", row["position"]
            )
            out.append(_status(tuple(row), head, oldest))
        return out

    async def prune(self, before_ms: int, limit: int = 10_000) -> int:
        done = await self._store.pool.execute(
            "DELETE FROM export_outbox WHERE pos IN (SELECT pos FROM export_outbox WHERE at_ms < $1 AND "
            "pos <= (SELECT coalesce(min(position), 9223372036854775807) FROM export_cursors) ORDER BY pos LIMIT $2)",
            before_ms, limit,
        )  # fmt: skip
        return int(done.split()[-1])


def outbox_for(store: object) -> Outbox:
    if isinstance(store, SQLiteStore):
        return SQLiteOutbox(store)
    if isinstance(store, PostgresStore):
        return PostgresOutbox(store)
    raise TypeError(f"no export outbox for {type(store).__name__}")

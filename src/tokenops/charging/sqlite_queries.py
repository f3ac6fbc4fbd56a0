"""The read side of the embedded charging store: ledger scans, open reservations, past spend."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from tokenops.charging.budgets import Alert, Spend
from tokenops.charging.checkpoints import (
    INSERT_CHECKPOINT,
    LATEST,
    SQLITE_MEMBER,
    UPSERT_HEAD,
    Checkpoint,
    Head,
    Reading,
    Slice,
    checkpoint_of,
    read_slice,
)
from tokenops.charging.ledger import Entry
from tokenops.charging.queries import (
    ALERTS,
    BILLED_BEFORE,
    CHARGED_SINCE,
    PACKAGE_DRAWS,
    RECENT_SPEND,
    RECENT_TOPUPS,
    SPENDS,
    RecentSpend,
    among,
    recent_of,
    spends_of,
)
from tokenops.charging.store import HoldRow
from tokenops.store.base import USAGE_COLUMNS, UsageRecord
from tokenops.store.sqlite import SQLiteStore

ENTRY_COLUMNS = (
    "seq, account_id, kind, amount_units, idem_key, request_id, created_ms, meta, prev_hash, hash, hashed_digits"
)
_HOLD_COLUMNS = "request_id, account_id, amount_units, expires_ms, created_ms, owner, interim"


def entry_of(row: tuple[Any, ...]) -> Entry:
    seq, account, kind, amount, key, request_id, created, meta, prev, digest, digits = row
    return Entry(account, kind, amount, key, created, request_id, orjson.loads(meta), seq, prev, digest, digits)


class ChargingQueries:
    _store: SQLiteStore
    writer: str

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self._store.run(lambda db: db.execute(sql, args).fetchall())

    async def entries(
        self, account_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[Entry]:
        sql = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE created_ms >= ? AND created_ms < ?"
        args: tuple[Any, ...] = (since_ms or 0, until_ms or 2**62)
        if account_id is not None:
            sql += " AND account_id = ?"
            args += (account_id,)
        return [entry_of(r) for r in await self._all(sql + " ORDER BY seq", args)]

    async def entry(self, idem_key: str) -> Entry | None:
        rows = await self._all(f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE idem_key = ?", (idem_key,))
        return entry_of(rows[0]) if rows else None

    async def foreign_entries(self, after_seq: int) -> list[Entry]:
        sql = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE seq > ? AND writer != ? ORDER BY seq"
        return [entry_of(r) for r in await self._all(sql, (after_seq, self.writer))]

    async def charged(self, request_ids: Sequence[str]) -> set[str]:
        keys = [("charge:" + r,) for r in request_ids]

        def run(db: sqlite3.Connection) -> set[str]:
            sql = "SELECT request_id FROM ledger_entries WHERE idem_key = ?"
            return {row[0] for key in keys for row in db.execute(sql, key)}

        return await self._store.run(run)

    async def last_seq(self) -> int:
        rows = await self._all("SELECT coalesce(max(seq), 0) FROM ledger_entries")
        return int(rows[0][0])

    async def open_holds(self) -> list[HoldRow]:
        return [HoldRow(*r) for r in await self._all(f"SELECT {_HOLD_COLUMNS} FROM reservations")]

    async def heartbeat(self) -> None:
        """Nothing to tell: one process serves an embedded file."""

    async def retire(self) -> None:
        """Nothing to take back: one process serves an embedded file."""

    async def dead_replicas(self, stale_ms: int) -> list[str]:
        return []  # one process serves an embedded file

    async def claim_orphans(self, stale_ms: int) -> list[HoldRow]:
        def run(db: sqlite3.Connection) -> list[HoldRow]:
            with db:
                sql = f"UPDATE reservations SET owner = ? WHERE owner <> ? RETURNING {_HOLD_COLUMNS}"
                return [HoldRow(*r) for r in db.execute(sql, (self.writer, self.writer)).fetchall()]

        return await self._store.run(run)

    async def close_holds(self, request_ids: Sequence[str]) -> None:
        def run(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("DELETE FROM reservations WHERE request_id = ?", [(r,) for r in request_ids])

        await self._store.run(run)

    async def spends(self, since_ms: int = 0, accounts: Sequence[str] | None = None) -> list[Spend]:
        sql = SPENDS + among("account_id", accounts)
        return spends_of(await self._all(sql, (since_ms, *(accounts or ()))))

    async def recent_spend(
        self, accounts: Sequence[str], day_ms: int, month_ms: int, burn_ms: int
    ) -> dict[str, RecentSpend]:
        where = among("account_id", accounts)
        sums = await self._all(RECENT_SPEND + where + " GROUP BY account_id",
                               (day_ms, burn_ms, burn_ms, min(month_ms, burn_ms), *accounts))  # fmt: skip
        draws = await self._all(PACKAGE_DRAWS + where, (burn_ms, *accounts))
        return recent_of(sums, draws, await self._all(RECENT_TOPUPS + where, (month_ms, *accounts)), day_ms)

    async def usage_record(self, request_id: str) -> UsageRecord | None:
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records WHERE request_id = ?"
        rows = await self._all(sql, (request_id,))
        if not rows:
            return None
        record = UsageRecord(**dict(zip(USAGE_COLUMNS, rows[0], strict=True)))
        record.stream = bool(record.stream)
        return record

    async def write_alerts(self, alerts: Sequence[Alert]) -> None:
        rows = [(a.budget_id, a.subject, a.period, a.threshold, a.spent, a.limit, a.at_ms) for a in alerts]

        def run(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT OR IGNORE INTO budget_alerts VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

        await self._store.run(run)

    async def billed_before(self, account_id: str, before_ms: int) -> int:
        return int((await self._all(BILLED_BEFORE, (account_id, before_ms)))[0][0])

    async def charged_since(self, since_ms: int) -> int:
        return int((await self._all(CHARGED_SINCE, (since_ms,)))[0][0])

    async def alerts(self, limit: int = 100) -> list[Alert]:
        return [Alert(*r) for r in await self._all(ALERTS + " ORDER BY at_ms DESC LIMIT ?", (limit,))]

    async def latest_checkpoint(self) -> Checkpoint | None:
        rows = await self._all(LATEST)
        return checkpoint_of(rows[0] if rows else None)

    async def verify_slice(self, now_ms: int, grace_ms: int, limit: int) -> Slice:
        def run(db: sqlite3.Connection) -> Slice:
            db.execute("BEGIN")  # one snapshot, also against another process writing the file
            try:
                return _drive(read_slice(SQLITE_MEMBER, now_ms, grace_ms, limit), db)
            finally:
                db.execute("COMMIT")

        return await self._store.run(run)

    async def save_checkpoint(self, base_id: int, mark: Checkpoint, heads: Sequence[Head]) -> Checkpoint | None:
        rows = [(h.account_id, h.seq, h.hash, h.balance) for h in heads]

        def run(db: sqlite3.Connection) -> Checkpoint | None:
            db.execute("BEGIN IMMEDIATE")
            try:
                latest = checkpoint_of(db.execute(LATEST).fetchone())
                if (latest.id if latest else 0) != base_id:
                    return None
                db.execute(INSERT_CHECKPOINT, mark.row())
                db.executemany(UPSERT_HEAD, rows)
                return checkpoint_of(db.execute(LATEST).fetchone())
            finally:
                db.execute("COMMIT")

        return await self._store.run(run)


def _drive(reading: Reading, db: sqlite3.Connection) -> Slice:
    """Run a reading's queries in turn, each list parameter as JSON (see `SQLITE_MEMBER`)."""
    try:
        sql, args = next(reading)
        while True:
            params = tuple(orjson.dumps(a).decode() if isinstance(a, list) else a for a in args)
            sql, args = reading.send(db.execute(sql, params).fetchall())
    except StopIteration as done:
        found: Slice = done.value
        return found

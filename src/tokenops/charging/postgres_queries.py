"""The read side of the PostgreSQL charging store: ledger scans, open reservations, past spend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from tokenops.charging.budgets import Alert, Spend
from tokenops.charging.checkpoints import (
    INSERT_CHECKPOINT,
    LATEST,
    POSTGRES_MEMBER,
    UPSERT_HEAD,
    Checkpoint,
    Head,
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
from tokenops.store.postgres import usage_of
from tokenops.store.postgres_schema import LOCK_VERIFY, NOW_MS
from tokenops.store.sql import numbered

ENTRY_COLUMNS = (
    "seq, account_id, kind, amount_units, idem_key, request_id, created_ms, meta, prev_hash, hash, hashed_digits"
)
HOLD_COLUMNS = "request_id, account_id, amount_units, expires_ms, created_ms, owner, interim"


def entry_of(row: asyncpg.Record) -> Entry:
    seq, account, kind, amount, key, request_id, created, meta, prev, digest, digits = row
    return Entry(account, kind, amount, key, created, request_id, orjson.loads(meta), seq, prev, digest, digits)


class PostgresChargingQueries:
    pool: asyncpg.Pool
    writer: str

    async def _all(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.pool.fetch(sql, *args)
        return rows

    async def entries(
        self, account_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[Entry]:
        sql = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE created_ms >= $1 AND created_ms < $2"
        args: tuple[Any, ...] = (since_ms or 0, until_ms or 2**62)
        if account_id is not None:
            sql += " AND account_id = $3"
            args += (account_id,)
        return [entry_of(r) for r in await self._all(sql + " ORDER BY seq", *args)]

    async def entry(self, idem_key: str) -> Entry | None:
        rows = await self._all(f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE idem_key = $1", idem_key)
        return entry_of(rows[0]) if rows else None

    async def foreign_entries(self, after_seq: int) -> list[Entry]:
        sql = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE seq > $1 AND writer != $2 ORDER BY seq"
        return [entry_of(r) for r in await self._all(sql, after_seq, self.writer)]

    async def charged(self, request_ids: Sequence[str]) -> set[str]:
        keys = ["charge:" + r for r in request_ids]
        rows = await self._all("SELECT request_id FROM ledger_entries WHERE idem_key = ANY($1::text[])", keys)
        return {r[0] for r in rows}

    async def last_seq(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(seq), 0) FROM ledger_entries"))

    async def open_holds(self) -> list[HoldRow]:
        return [HoldRow(*r) for r in await self._all(f"SELECT {HOLD_COLUMNS} FROM reservations")]

    async def close_holds(self, request_ids: Sequence[str]) -> None:
        await self.pool.execute("DELETE FROM reservations WHERE request_id = ANY($1::text[])", list(request_ids))

    async def heartbeat(self) -> None:
        await self.pool.execute(
            f"INSERT INTO replicas VALUES ($1, {NOW_MS}) ON CONFLICT (writer) DO UPDATE SET seen_ms = excluded.seen_ms",
            self.writer,
        )

    async def retire(self) -> None:
        await self.pool.execute("DELETE FROM replicas WHERE writer = $1", self.writer)

    async def dead_replicas(self, stale_ms: int) -> list[str]:
        rows = await self._all(f"SELECT writer FROM replicas WHERE seen_ms < {NOW_MS} - $1", stale_ms)
        return [r[0] for r in rows]

    async def claim_orphans(self, stale_ms: int) -> list[HoldRow]:
        async with self.pool.acquire() as conn, conn.transaction():
            # a row another replica claims meanwhile is re-checked after its lock: its new owner is alive
            rows = await conn.fetch(
                f"UPDATE reservations SET owner = $1 WHERE owner <> $1 AND owner NOT IN "
                f"(SELECT writer FROM replicas WHERE seen_ms >= {NOW_MS} - $2) RETURNING {HOLD_COLUMNS}",
                self.writer, stale_ms,
            )  # fmt: skip
            await conn.execute(f"DELETE FROM replicas WHERE seen_ms < {NOW_MS} - 86400000")  # gone a day
        return [HoldRow(*r) for r in rows]

    async def spends(self, since_ms: int = 0, accounts: Sequence[str] | None = None) -> list[Spend]:
        return spends_of(await self._all(numbered(SPENDS + among("account_id", accounts)), since_ms, *(accounts or ())))

    async def recent_spend(
        self, accounts: Sequence[str], day_ms: int, month_ms: int, burn_ms: int
    ) -> dict[str, RecentSpend]:
        where = among("account_id", accounts)
        sums = await self._all(numbered(RECENT_SPEND + where + " GROUP BY account_id"),
                               day_ms, burn_ms, burn_ms, min(month_ms, burn_ms), *accounts)  # fmt: skip
        draws = await self._all(numbered(PACKAGE_DRAWS + where), burn_ms, *accounts)
        topups = await self._all(numbered(RECENT_TOPUPS + where), month_ms, *accounts)
        return recent_of(sums, draws, topups, day_ms)

    async def usage_record(self, request_id: str) -> UsageRecord | None:
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records WHERE request_id = $1"
        rows = await self._all(sql, request_id)
        return usage_of(rows[0]) if rows else None

    async def write_alerts(self, alerts: Sequence[Alert]) -> None:
        rows = [(a.budget_id, a.subject, a.period, a.threshold, a.spent, a.limit, a.at_ms) for a in alerts]
        if rows:
            await self.pool.executemany(
                "INSERT INTO budget_alerts VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING", rows
            )

    async def billed_before(self, account_id: str, before_ms: int) -> int:
        return int(await self.pool.fetchval(numbered(BILLED_BEFORE), account_id, before_ms))

    async def charged_since(self, since_ms: int) -> int:
        return int(await self.pool.fetchval(numbered(CHARGED_SINCE), since_ms))

    async def alerts(self, limit: int = 100) -> list[Alert]:
        return [Alert(*r) for r in await self._all(numbered(ALERTS + " ORDER BY at_ms DESC LIMIT ?"), limit)]

    async def latest_checkpoint(self) -> Checkpoint | None:
        return checkpoint_of(await self.pool.fetchrow(LATEST))

    async def verify_slice(self, now_ms: int, grace_ms: int, limit: int) -> Slice:
        reading = read_slice(POSTGRES_MEMBER, now_ms, grace_ms, limit)
        async with self.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            sql, args = next(reading)
            while True:
                rows = await conn.fetch(numbered(sql), *args)
                try:
                    sql, args = reading.send(rows)
                except StopIteration as done:
                    found: Slice = done.value
                    return found

    async def save_checkpoint(self, base_id: int, mark: Checkpoint, heads: Sequence[Head]) -> Checkpoint | None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_VERIFY)
            latest = checkpoint_of(await conn.fetchrow(LATEST))
            if (latest.id if latest else 0) != base_id:
                return None
            await conn.execute(numbered(INSERT_CHECKPOINT), *mark.row())
            await conn.executemany(numbered(UPSERT_HEAD), [(h.account_id, h.seq, h.hash, h.balance) for h in heads])
            return checkpoint_of(await conn.fetchrow(LATEST))

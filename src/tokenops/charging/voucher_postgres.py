"""Vouchers in PostgreSQL, shared by every replica: batches, keyed code hashes, redemptions, refused attempts.

A redemption is one transaction under the ledger's lock (the one every ledger write takes):
the code's row is read, its ledger entry appended and the row marked redeemed together, so
of any number of replicas redeeming one code at once, one credits it and the others see it
redeemed (by them: a replay; by another tenant: used).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from tokenops.charging.ledger import Entry
from tokenops.charging.postgres_queries import ENTRY_COLUMNS, entry_of
from tokenops.charging.vouchers import BATCH_COLUMNS, VOUCHER_ROW, Redemption, VoucherBatch, batch_of, batch_row, decide

MakeEntry = Callable[[VoucherBatch, str], Entry]


class VoucherPostgres:
    pool: asyncpg.Pool

    async def _locked(self, work: Any) -> Any:
        raise NotImplementedError  # the ledger's (ChargingPostgres)

    async def _append(self, conn: asyncpg.Connection, entries: list[Entry], skip_existing: bool = False) -> list[Entry]:
        raise NotImplementedError  # the ledger's (ChargingPostgres)

    async def create_vouchers(self, batch: VoucherBatch, codes: Sequence[tuple[str, str]]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"INSERT INTO voucher_batches ({BATCH_COLUMNS}) VALUES "
                               f"({', '.join(f'${i}' for i in range(1, 13))})", *batch_row(batch))  # fmt: skip
            await conn.executemany("INSERT INTO vouchers (code_hash, id, batch_id, status) VALUES ($1, $2, $3, "
                                   "'active')", [(h, v, batch.id) for h, v in codes])  # fmt: skip

    async def redeem_voucher(
        self, code_hash: str, tenant: str, tenant_kind: str, now_ms: int, make: MakeEntry
    ) -> Redemption:
        async def work(conn: asyncpg.Connection) -> Redemption:
            row = await conn.fetchrow(VOUCHER_ROW.replace("?", "$1") + " FOR UPDATE OF v", code_hash)
            found = decide(row, tenant, tenant_kind, now_ms)
            if found.outcome == "redeemed" and found.batch is not None and found.voucher_id is not None:
                entry = make(found.batch, found.voucher_id)
                await self._append(conn, [entry])
                await conn.execute("UPDATE vouchers SET status = 'redeemed', redeemed_by = $1, redeemed_ms = $2, "
                                   "entry_key = $3 WHERE code_hash = $4", tenant, now_ms, entry.idem_key,
                                   code_hash)  # fmt: skip
                found.entry = entry
            elif found.outcome == "replayed" and row is not None:
                stored = await conn.fetchrow(f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE idem_key = $1", row[3])
                found.entry = entry_of(stored)
            return found

        if await self.pool.fetchval("SELECT 1 FROM vouchers WHERE code_hash = $1", code_hash) is None:
            return Redemption("unknown")  # a guess: answered without the ledger's lock
        redemption: Redemption = await self._locked(work)
        return redemption

    async def voucher_batches(self) -> list[tuple[VoucherBatch, dict[str, int]]]:
        counts: dict[str, dict[str, int]] = {}
        for bid, status, n in await self.pool.fetch(
            "SELECT batch_id, status, count(*) FROM vouchers GROUP BY batch_id, status"
        ):
            counts.setdefault(bid, {})[status] = n
        rows = await self.pool.fetch(f"SELECT {BATCH_COLUMNS} FROM voucher_batches ORDER BY created_ms, id")
        return [(batch_of(tuple(r)), counts.get(r[0], {})) for r in rows]

    async def vouchers_of(self, batch_id: str) -> list[tuple[Any, ...]]:
        sql = "SELECT id, status, redeemed_by, redeemed_ms FROM vouchers WHERE batch_id = $1 ORDER BY id"
        return [tuple(r) for r in await self.pool.fetch(sql, batch_id)]

    async def revoke_vouchers(self, batch_id: str, voucher_id: str | None = None, code_hash: str | None = None) -> int:
        result = await self.pool.execute(
            "UPDATE vouchers SET status = 'revoked' WHERE status = 'active' AND batch_id = $1 "
            "AND ($2::text IS NULL OR id = $2) AND ($3::text IS NULL OR code_hash = $3)",
            batch_id, voucher_id, code_hash,
        )  # fmt: skip
        return int(result.split()[-1])

    async def record_attempts(self, rows: Sequence[tuple[int, str, str, str, str | None]]) -> None:
        await self.pool.executemany(
            "INSERT INTO voucher_attempts (at_ms, tenant_id, address, outcome, voucher_id) VALUES ($1, $2, $3, $4, $5)",
            rows,
        )

    async def voucher_attempts(self, tenant: str | None = None, limit: int = 1000) -> list[tuple[Any, ...]]:
        rows = await self.pool.fetch(
            "SELECT id, at_ms, tenant_id, address, outcome, voucher_id FROM voucher_attempts "
            "WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY id DESC LIMIT $2",
            tenant, limit,
        )  # fmt: skip
        return [tuple(r) for r in rows]

    async def count_attempts(self, tenant: str | None = None) -> dict[str, int]:
        rows = await self.pool.fetch(
            "SELECT outcome, count(*) FROM voucher_attempts WHERE $1::text IS NULL OR tenant_id = $1 GROUP BY outcome",
            tenant,
        )
        return {r[0]: r[1] for r in rows}

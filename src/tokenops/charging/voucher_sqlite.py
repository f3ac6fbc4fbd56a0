"""Vouchers in the embedded store: batches, keyed code hashes, redemptions and refused attempts.

A redemption is one transaction on the store's thread: the code's row is read, its ledger
entry appended and the row marked redeemed together, so it is credited once or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from tokenops.charging.ledger import Entry
from tokenops.charging.sqlite_queries import ENTRY_COLUMNS, entry_of
from tokenops.charging.vouchers import BATCH_COLUMNS, VOUCHER_ROW, Redemption, VoucherBatch, batch_of, batch_row, decide
from tokenops.store.sqlite import SQLiteStore

MakeEntry = Callable[[VoucherBatch, str], Entry]
_COUNTS = "SELECT batch_id, status, count(*) FROM vouchers GROUP BY batch_id, status"


class VoucherSQLite:
    _store: SQLiteStore
    _top: int

    def _append(self, db: sqlite3.Connection, entries: list[Entry], skip_existing: bool = False) -> list[Entry]:
        raise NotImplementedError  # the ledger's (ChargingSQLite)

    async def create_vouchers(self, batch: VoucherBatch, codes: Sequence[tuple[str, str]]) -> None:
        """Store a batch and its codes, `(code hash, voucher id)` each, all or none."""

        def run(db: sqlite3.Connection) -> None:
            with db:
                db.execute(f"INSERT INTO voucher_batches ({BATCH_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                           batch_row(batch))  # fmt: skip
                db.executemany("INSERT INTO vouchers (code_hash, id, batch_id, status) VALUES (?, ?, ?, 'active')",
                               [(h, v, batch.id) for h, v in codes])  # fmt: skip

        await self._store.run(run)

    async def redeem_voucher(
        self, code_hash: str, tenant: str, tenant_kind: str, now_ms: int, make: MakeEntry
    ) -> Redemption:
        return await self._store.run(partial(self._redeem, code_hash, tenant, tenant_kind, now_ms, make))

    def _redeem(self, code_hash: str, tenant: str, kind: str, now_ms: int, make: MakeEntry,
                db: sqlite3.Connection) -> Redemption:  # fmt: skip
        if db.execute("SELECT 1 FROM vouchers WHERE code_hash = ?", (code_hash,)).fetchone() is None:
            return Redemption("unknown")  # a guess: answered without taking the write lock
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(VOUCHER_ROW, (code_hash,)).fetchone()
            found = decide(row, tenant, kind, now_ms)
            if found.outcome == "redeemed" and found.batch is not None and found.voucher_id is not None:
                entry = make(found.batch, found.voucher_id)
                self._append(db, [entry])
                db.execute("UPDATE vouchers SET status = 'redeemed', redeemed_by = ?, redeemed_ms = ?, entry_key = ? "
                           "WHERE code_hash = ?", (tenant, now_ms, entry.idem_key, code_hash))  # fmt: skip
                found.entry = entry
            elif found.outcome == "replayed":
                stored = db.execute(f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE idem_key = ?", (row[3],))
                found.entry = entry_of(stored.fetchone())
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._top = -1
            raise
        return found

    async def voucher_batches(self) -> list[tuple[VoucherBatch, dict[str, int]]]:
        def run(db: sqlite3.Connection) -> list[tuple[VoucherBatch, dict[str, int]]]:
            counts: dict[str, dict[str, int]] = {}
            for bid, status, n in db.execute(_COUNTS):
                counts.setdefault(bid, {})[status] = n
            rows = db.execute(f"SELECT {BATCH_COLUMNS} FROM voucher_batches ORDER BY created_ms, id").fetchall()
            return [(batch_of(r), counts.get(r[0], {})) for r in rows]

        return await self._store.run(run)

    async def vouchers_of(self, batch_id: str) -> list[tuple[Any, ...]]:
        """(id, status, redeemed_by, redeemed_ms) of each code of a batch; never the code or its hash."""
        sql = "SELECT id, status, redeemed_by, redeemed_ms FROM vouchers WHERE batch_id = ? ORDER BY id"
        return await self._store.run(lambda db: db.execute(sql, (batch_id,)).fetchall())

    async def revoke_vouchers(self, batch_id: str, voucher_id: str | None = None, code_hash: str | None = None) -> int:
        """Revoke the unredeemed codes of a batch, or one of them (by id or code hash); how many were revoked."""
        sql = "UPDATE vouchers SET status = 'revoked' WHERE status = 'active' AND batch_id = ?"
        args: tuple[Any, ...] = (batch_id,)
        if voucher_id is not None:
            sql, args = sql + " AND id = ?", (*args, voucher_id)
        if code_hash is not None:
            sql, args = sql + " AND code_hash = ?", (*args, code_hash)

        def run(db: sqlite3.Connection) -> int:
            with db:
                return db.execute(sql, args).rowcount

        return await self._store.run(run)

    async def record_attempts(self, rows: Sequence[tuple[int, str, str, str, str | None]]) -> None:
        """`(at_ms, tenant, address, outcome, voucher id)` of redemption attempts."""

        def run(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT INTO voucher_attempts (at_ms, tenant_id, address, outcome, voucher_id) "
                               "VALUES (?, ?, ?, ?, ?)", rows)  # fmt: skip

        await self._store.run(run)

    async def voucher_attempts(self, tenant: str | None = None, limit: int = 1000) -> list[tuple[Any, ...]]:
        sql = "SELECT id, at_ms, tenant_id, address, outcome, voucher_id FROM voucher_attempts"
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql, args = sql + " WHERE tenant_id = ?", (tenant,)
        sql += " ORDER BY id DESC LIMIT ?"
        return await self._store.run(lambda db: db.execute(sql, (*args, limit)).fetchall())

    async def count_attempts(self, tenant: str | None = None) -> dict[str, int]:
        sql = "SELECT outcome, count(*) FROM voucher_attempts" + (" WHERE tenant_id = ?" if tenant else "")
        args = (tenant,) if tenant else ()
        rows = await self._store.run(lambda db: db.execute(sql + " GROUP BY outcome", args).fetchall())
        return {r[0]: r[1] for r in rows}

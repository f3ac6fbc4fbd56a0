"""The embedded admin store: admin tokens, audit log and security events in the SQLite file.

It keeps its own connection and thread on the gateway's database file (WAL lets both
connections work side by side). The audit table refuses UPDATE and DELETE by trigger.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from tokenops.store.admin import GENESIS, AdminToken, AuditDraft, AuditEntry, KeyRow, SecurityEvent, chain_hash

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    tenant_id TEXT,
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    tenant_id TEXT,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS security_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    detector TEXT NOT NULL,
    score REAL NOT NULL,
    action TEXT NOT NULL,
    evidence TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS security_events_by_tenant ON security_events (tenant_id, at_ms);
"""

_KEY_COLUMNS = "id, tenant_id, prefix, models, status, expires_at, created_ms"


class SQLiteAdminStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenops-admin")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("admin store is not open")
        return self._db

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self.db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return result

    async def seed_admin(self, tokens: list[AdminToken], docs: dict[tuple[str, str], dict[str, Any]]) -> None:
        now = _now_ms()
        token_rows = [(t.id, t.token_hash, t.role, t.tenant_id, t.status, now) for t in tokens]
        doc_rows = [(kind, id, orjson.dumps(doc), now) for (kind, id), doc in docs.items()]

        def seed(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR IGNORE INTO admin_tokens VALUES (?, ?, ?, ?, ?, ?)", token_rows)
            db.executemany("INSERT OR IGNORE INTO catalog_objects VALUES (?, ?, ?, ?)", doc_rows)

        await self._run(self._tx, seed)

    async def admin_token(self, token_hash: str) -> AdminToken | None:
        def find() -> AdminToken | None:
            sql = "SELECT id, role, tenant_id, token_hash, status FROM admin_tokens WHERE token_hash = ?"
            row = self.db.execute(sql, (token_hash,)).fetchone()
            return AdminToken(*row) if row else None

        return await self._run(find)

    async def get_doc(self, kind: str, id: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            row = self.db.execute("SELECT doc FROM catalog_objects WHERE kind = ? AND id = ?", (kind, id)).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._run(get)

    async def docs(self, kind: str) -> dict[str, dict[str, Any]]:
        def get() -> dict[str, dict[str, Any]]:
            rows = self.db.execute("SELECT id, doc FROM catalog_objects WHERE kind = ?", (kind,))
            return {id: orjson.loads(doc) for id, doc in rows}

        return await self._run(get)

    async def put_doc(self, kind: str, id: str, doc: dict[str, Any], audit: AuditDraft) -> None:
        def put(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO catalog_objects VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
                (kind, id, orjson.dumps(doc), _now_ms()),
            )
            _append(db, audit)

        await self._run(self._tx, put)

    async def keys(self, tenant_id: str | None = None) -> list[KeyRow]:
        def get() -> list[KeyRow]:
            sql = f"SELECT {_KEY_COLUMNS} FROM api_keys"
            args: tuple[Any, ...] = ()
            if tenant_id is not None:
                sql, args = sql + " WHERE tenant_id = ?", (tenant_id,)
            rows = self.db.execute(sql + " ORDER BY created_ms, id", args).fetchall()
            return [KeyRow(r[0], r[1], r[2], tuple(orjson.loads(r[3])), r[4], r[5], r[6]) for r in rows]

        return await self._run(get)

    async def insert_key(self, row: KeyRow, key_hash: str, audit: AuditDraft) -> None:
        values = (
            row.id,
            row.tenant_id,
            key_hash,
            row.prefix,
            orjson.dumps(list(row.models)),
            row.status,
            row.expires_at,
            row.created_ms,
        )

        def insert(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
            _append(db, audit)

        await self._run(self._tx, insert)

    async def update_key(
        self,
        key_id: str,
        audit: AuditDraft,
        *,
        status: str | None = None,
        key_hash: str | None = None,
        prefix: str | None = None,
    ) -> None:
        def update(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE api_keys SET status = coalesce(?, status), key_hash = coalesce(?, key_hash), "
                "prefix = coalesce(?, prefix) WHERE id = ?",
                (status, key_hash, prefix, key_id),
            )
            _append(db, audit)

        await self._run(self._tx, update)

    async def audit_entries(self, tenant_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        def get() -> list[AuditEntry]:
            sql = "SELECT * FROM audit_log"
            args: tuple[Any, ...] = ()
            if tenant_id is not None:
                sql, args = sql + " WHERE tenant_id = ?", (tenant_id,)
            rows = self.db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
            return [
                AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), orjson.loads(r[7]), r[8], r[9])
                for r in reversed(rows)
            ]

        return await self._run(get)

    async def add_event(self, event: SecurityEvent) -> None:
        values = (
            event.at_ms,
            event.tenant_id,
            event.key_id,
            event.detector,
            event.score,
            event.action,
            orjson.dumps(event.evidence),
        )

        def add(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "INSERT INTO security_events (at_ms, tenant_id, key_id, detector, score, action, evidence) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            event.id = int(cur.lastrowid or 0)

        await self._run(self._tx, add)

    async def events(self, tenant_id: str | None = None, limit: int = 1000) -> list[SecurityEvent]:
        def get() -> list[SecurityEvent]:
            sql = "SELECT at_ms, tenant_id, key_id, detector, score, action, evidence, id FROM security_events"
            args: tuple[Any, ...] = ()
            if tenant_id is not None:
                sql, args = sql + " WHERE tenant_id = ?", (tenant_id,)
            rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
            return [SecurityEvent(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7]) for r in rows]

        return await self._run(get)

    async def version(self) -> int:
        def get() -> int:
            return int(self.db.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0])

        return await self._run(get)


def _append(db: sqlite3.Connection, draft: AuditDraft) -> None:
    last = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at_ms = _now_ms()
    db.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            at_ms,
            draft.actor,
            draft.action,
            draft.target,
            draft.tenant_id,
            orjson.dumps(draft.before),
            orjson.dumps(draft.after),
            prev,
            chain_hash(prev, seq, at_ms, draft),
        ),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)

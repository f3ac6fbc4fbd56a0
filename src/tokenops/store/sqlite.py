"""The embedded store: one SQLite file in WAL mode, driven from a single thread.

All SQLite work runs on one dedicated thread so the event loop never blocks on disk.
A commit in WAL mode survives the process being killed; `synchronous=FULL`
(``TOKENOPS_SQLITE_SYNC=full``) also survives power loss, at an fsync per commit.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from tokenops.catalog import Catalog, CatalogSpec
from tokenops.catalog.codec import Decoder
from tokenops.catalog.model import ApiKey
from tokenops.store.base import CATALOG_DOCS, KEY_ROWS, USAGE_COLUMNS, USAGE_INDEXES, UsageRecord
from tokenops.store.ops_schema import SQLITE_OPS
from tokenops.store.sql import SEEDED, SUMMARY_NAMES, USAGE_SUMMARY, catalog_rows, key_rows, usage_where

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS catalog_objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    models TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS usage_records (
    request_id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    api TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    session_id TEXT,
    correlation_id TEXT,
    end_user TEXT,
    model_served TEXT,
    deployment_id TEXT,
    region TEXT,
    stream INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    usage_source TEXT NOT NULL,
    error_code TEXT,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    routing_score REAL,
    routing_choice TEXT,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0
);
"""

_INSERT_USAGE = (
    f"INSERT OR IGNORE INTO usage_records ({', '.join(USAGE_COLUMNS)}) VALUES ({', '.join('?' for _ in USAGE_COLUMNS)})"
)


_UPSERT_DOC = "INSERT INTO catalog_objects VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc"


def default_path() -> Path:
    return Path(os.environ.get("TOKENOPS_HOME", ".tokenops")) / "tokenops.db"


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenops-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(db)` on the store's thread: for modules that keep their own tables in this file."""
        return await self._run(lambda: fn(self.db))

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        sync = os.environ.get("TOKENOPS_SQLITE_SYNC", "normal").upper()
        db.execute(f"PRAGMA synchronous={'FULL' if sync == 'FULL' else 'NORMAL'}")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA + SQLITE_OPS)
        _add_missing_columns(db)
        for index in USAGE_INDEXES:
            db.execute(index)
        if db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
            db.execute("INSERT INTO schema_version VALUES (1)")
        self._db = db

    async def clock_ms(self) -> int | None:
        return None  # one process serves the file: its host's clock is the clock

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self.db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def seed(self, spec: CatalogSpec, hash_key: Callable[[str], str]) -> None:
        now = _now_ms()
        rows, keys = catalog_rows(spec, now), key_rows(spec, hash_key, now)
        await self._run(self._seed, rows, keys)

    def _seed(self, rows: list[tuple[Any, ...]], keys: list[tuple[Any, ...]]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR IGNORE INTO catalog_objects VALUES (?, ?, ?, ?)", rows)
            db.executemany("INSERT OR IGNORE INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)", keys)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def seeded(self) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            row = self.db.execute("SELECT doc FROM catalog_objects WHERE kind = ? AND id = ?", SEEDED).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._run(read)

    async def mark_seeded(self, fingerprint: dict[str, Any]) -> None:
        row = (*SEEDED, orjson.dumps(fingerprint).decode(), _now_ms())

        def write() -> None:
            self.db.execute(_UPSERT_DOC, row)

        await self._run(write)

    async def load_catalog(self) -> Catalog:
        return await self._run(self._load_catalog)

    def _load_catalog(self) -> Catalog:
        parts: dict[str, dict[str, Any]] = {"tenant": {}, "model": {}, "deployment": {}, "alias": {}}
        decode = Decoder()
        for kind, name, doc in self.db.execute(CATALOG_DOCS):
            parts[kind][name] = decode(kind, orjson.loads(doc))
        keys = {}
        for row in self.db.execute(KEY_ROWS):
            key = ApiKey(row[0], row[1], row[2], row[3], decode.value(orjson.loads(row[4])), row[5], row[6])
            keys[key.key_hash] = key
        return Catalog(parts["tenant"], keys, parts["model"], parts["deployment"], parts["alias"])

    async def write_usage(self, records: Sequence[UsageRecord]) -> None:
        rows = [tuple(getattr(r, c) for c in USAGE_COLUMNS) for r in records]
        await self._run(self._write_usage, rows)

    def _write_usage(self, rows: list[tuple[Any, ...]]) -> None:
        db = self.db
        db.execute("BEGIN")
        try:
            db.executemany(_INSERT_USAGE, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def usage_records(
        self,
        tenant_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        session_id: str | None = None,
    ) -> list[UsageRecord]:
        where, args = usage_where(tenant_id, since_ms, until_ms, session_id)
        return await self._run(self._usage_records, where, args)

    def _usage_records(self, where: str, args: tuple[Any, ...]) -> list[UsageRecord]:
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records{where} ORDER BY created_ms, request_id"
        out = []
        for row in self.db.execute(sql, args):
            rec = UsageRecord(**dict(zip(USAGE_COLUMNS, row, strict=True)))
            rec.stream = bool(rec.stream)
            out.append(rec)
        return out

    async def usage_summary(
        self, since_ms: int | None = None, until_ms: int | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        where, args = usage_where(tenant_id, since_ms, until_ms, None)
        sql = f"{USAGE_SUMMARY}{where} GROUP BY 1, 2 ORDER BY 1, 2"
        rows = await self._run(lambda: self.db.execute(sql, args).fetchall())
        return [dict(zip(SUMMARY_NAMES, row, strict=True)) for row in rows]


_ADDED_COLUMNS = {
    "cache_write_tokens": "INTEGER NOT NULL DEFAULT 0",
    "routing_score": "REAL",
    "routing_choice": "TEXT",
    "reasoning_tokens": "INTEGER NOT NULL DEFAULT 0",
    "cache_write_1h_tokens": "INTEGER NOT NULL DEFAULT 0",
}


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a usage table from an earlier release up to date (columns are only ever added)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(usage_records)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in present:
            db.execute(f"ALTER TABLE usage_records ADD COLUMN {name} {kind}")


def _now_ms() -> int:
    return int(time.time() * 1000)

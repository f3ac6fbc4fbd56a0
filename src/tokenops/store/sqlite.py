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
from tokenops.catalog.codec import from_doc, to_doc
from tokenops.catalog.model import ApiKey
from tokenops.store.base import USAGE_COLUMNS, UsageRecord
from tokenops.store.ops_schema import SQLITE_OPS

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
CREATE INDEX IF NOT EXISTS usage_by_tenant_time ON usage_records (tenant_id, created_ms);
"""

_INSERT_USAGE = (
    f"INSERT OR IGNORE INTO usage_records ({', '.join(USAGE_COLUMNS)}) VALUES ({', '.join('?' for _ in USAGE_COLUMNS)})"
)


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
        await self._run(self._seed, spec, hash_key)

    def _seed(self, spec: CatalogSpec, hash_key: Callable[[str], str]) -> None:
        now = _now_ms()
        rows: list[tuple[str, str, bytes, int]] = []
        for kind, objects in (
            ("tenant", spec.tenants),
            ("model", spec.models),
            ("deployment", spec.deployments),
            ("alias", spec.aliases),
        ):
            rows += [(kind, name, orjson.dumps(to_doc(obj)), now) for name, obj in objects.items()]
        keys = []
        for k in spec.keys:
            key_hash = k.key_hash or hash_key(k.plaintext or "")
            prefix = (k.plaintext or "")[:8]
            keys.append((k.id, k.tenant_id, key_hash, prefix, orjson.dumps(list(k.models)), "active", None, now))
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR IGNORE INTO catalog_objects VALUES (?, ?, ?, ?)", rows)
            db.executemany("INSERT OR IGNORE INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)", keys)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def load_catalog(self) -> Catalog:
        return await self._run(self._load_catalog)

    def _load_catalog(self) -> Catalog:
        parts: dict[str, dict[str, Any]] = {"tenant": {}, "model": {}, "deployment": {}, "alias": {}}
        for kind, name, doc in self.db.execute("SELECT kind, id, doc FROM catalog_objects"):
            if kind in parts:
                parts[kind][name] = from_doc(kind, orjson.loads(doc))
        keys = {}
        for row in self.db.execute("SELECT id, tenant_id, key_hash, prefix, models, status, expires_at FROM api_keys"):
            key = ApiKey(row[0], row[1], row[2], row[3], tuple(orjson.loads(row[4])), row[5], row[6])
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

    async def usage_records(self, tenant_id: str | None = None) -> list[UsageRecord]:
        return await self._run(self._usage_records, tenant_id)

    def _usage_records(self, tenant_id: str | None) -> list[UsageRecord]:
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records"
        args: tuple[Any, ...] = ()
        if tenant_id is not None:
            sql += " WHERE tenant_id = ?"
            args = (tenant_id,)
        out = []
        for row in self.db.execute(sql + " ORDER BY created_ms, request_id", args):
            rec = UsageRecord(**dict(zip(USAGE_COLUMNS, row, strict=True)))
            rec.stream = bool(rec.stream)
            out.append(rec)
        return out

    async def usage_summary(self, since_ms: int | None = None, until_ms: int | None = None) -> list[dict[str, Any]]:
        return await self._run(self._usage_summary, since_ms, until_ms)

    def _usage_summary(self, since_ms: int | None, until_ms: int | None) -> list[dict[str, Any]]:
        sql = (
            "SELECT tenant_id, coalesce(model_served, model_requested), count(*), "
            "sum(input_tokens), sum(output_tokens), sum(cached_tokens), "
            "sum(CASE WHEN status IN (402, 403, 429) THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status >= 400 AND status NOT IN (402, 403, 429) THEN 1 ELSE 0 END) FROM usage_records "
            "WHERE created_ms >= ? AND created_ms < ? GROUP BY 1, 2 ORDER BY 1, 2"
        )
        rows = self.db.execute(sql, (since_ms or 0, until_ms or 2**62)).fetchall()
        names = ("tenant", "model", "requests", "input_tokens", "output_tokens", "cached_tokens", "refused", "errors")
        return [dict(zip(names, row, strict=True)) for row in rows]


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

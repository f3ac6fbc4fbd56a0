"""The transcript archive: full conversations kept compressed and content-addressed.

A transcript is stored only for a tenant whose policy allows storing content, and only
in that tenant's store; its id is derived from the tenant and the content, so the same
conversation archived twice is kept once. Transcripts older than the tenant's retention
period are purged.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tokenops.store import SQLiteStore
from tokenops.store.postgres import PostgresStore
from tokenops.store.sql import numbered

SCHEMA = """
CREATE TABLE IF NOT EXISTS transcripts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    session_id TEXT,
    request_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS transcripts_by_session ON transcripts (tenant_id, session_id);
CREATE INDEX IF NOT EXISTS transcripts_by_tenant_time ON transcripts (tenant_id, created_ms);
"""
PG_SCHEMA = SCHEMA.replace("INTEGER", "BIGINT").replace("BLOB", "BYTEA")
_INSERT = "INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
_GET = "SELECT id, tenant_id, session_id, request_id, created_ms, data FROM transcripts WHERE id = ?"
_OF_SESSION = "SELECT id FROM transcripts WHERE tenant_id = ? AND session_id = ? ORDER BY created_ms"
_PURGE = "DELETE FROM transcripts WHERE tenant_id = ? AND created_ms < ?"


@dataclass(frozen=True, slots=True)
class Transcript:
    id: str
    tenant_id: str
    session_id: str | None
    request_id: str
    created_ms: int
    messages: list[dict[str, Any]]


class TranscriptStore(Protocol):
    async def open(self) -> None: ...

    async def put(
        self, tenant_id: str, session_id: str | None, request_id: str, created_ms: int, messages: list[Any]
    ) -> str:
        """Archive a conversation; returns its id (the same id for the same tenant and content)."""

    async def get(self, transcript_id: str) -> Transcript | None: ...

    async def of_session(self, tenant_id: str, session_id: str) -> list[str]: ...

    async def purge(self, tenant_id: str, before_ms: int) -> int: ...


def transcript_id(tenant_id: str, packed: bytes) -> str:
    return "tr_" + hashlib.sha256(tenant_id.encode() + b"\0" + packed).hexdigest()[:32]


def transcript_row(
    tenant_id: str, session_id: str | None, request_id: str, created_ms: int, messages: list[Any]
) -> tuple[Any, ...]:
    """A conversation as its stored row: compressed, keyed by tenant and content."""
    raw = orjson.dumps(messages)
    return (transcript_id(tenant_id, raw), tenant_id, session_id, request_id, created_ms, len(messages), len(raw),
            zlib.compress(raw, 6))  # fmt: skip


def transcript_of(row: Any) -> Transcript:
    return Transcript(row[0], row[1], row[2], row[3], row[4], orjson.loads(zlib.decompress(row[5])))


class SQLiteTranscripts:
    """Transcripts in the embedded store's file, on its thread."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def open(self) -> None:
        await self._store.run(lambda db: db.executescript(SCHEMA))

    async def put(
        self, tenant_id: str, session_id: str | None, request_id: str, created_ms: int, messages: list[Any]
    ) -> str:
        row = transcript_row(tenant_id, session_id, request_id, created_ms, messages)

        def insert(db: sqlite3.Connection) -> None:
            db.execute(_INSERT, row)

        await self._store.run(insert)
        return str(row[0])

    async def get(self, transcript_id: str) -> Transcript | None:
        def read(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = db.execute(_GET, (transcript_id,)).fetchone()
            return row

        row = await self._store.run(read)
        return transcript_of(row) if row is not None else None

    async def of_session(self, tenant_id: str, session_id: str) -> list[str]:
        def read(db: sqlite3.Connection) -> list[str]:
            return [r[0] for r in db.execute(_OF_SESSION, (tenant_id, session_id))]

        return await self._store.run(read)

    async def purge(self, tenant_id: str, before_ms: int) -> int:
        def delete(db: sqlite3.Connection) -> int:
            return int(db.execute(_PURGE, (tenant_id, before_ms)).rowcount)

        return await self._store.run(delete)


class PostgresTranscripts:
    """Transcripts in a PostgreSQL database (the scaled-out store, or one kept in a tenant's region)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def open(self) -> None:
        await self._store.open()
        await self._store.pool.execute(PG_SCHEMA)

    async def put(
        self, tenant_id: str, session_id: str | None, request_id: str, created_ms: int, messages: list[Any]
    ) -> str:
        row = transcript_row(tenant_id, session_id, request_id, created_ms, messages)
        await self._store.pool.execute(numbered(_INSERT), *row)
        return str(row[0])

    async def get(self, transcript_id: str) -> Transcript | None:
        row = await self._store.pool.fetchrow(numbered(_GET), transcript_id)
        return transcript_of(row) if row is not None else None

    async def of_session(self, tenant_id: str, session_id: str) -> list[str]:
        return [r[0] for r in await self._store.pool.fetch(numbered(_OF_SESSION), tenant_id, session_id)]

    async def purge(self, tenant_id: str, before_ms: int) -> int:
        status = await self._store.pool.execute(numbered(_PURGE), tenant_id, before_ms)
        return int(status.split()[-1])

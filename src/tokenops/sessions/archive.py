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
"""


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


class SQLiteTranscripts:
    """Transcripts in the embedded store's file, on its thread."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def open(self) -> None:
        await self._store.run(lambda db: db.executescript(SCHEMA))

    async def put(
        self, tenant_id: str, session_id: str | None, request_id: str, created_ms: int, messages: list[Any]
    ) -> str:
        raw = orjson.dumps(messages)
        packed = zlib.compress(raw, 6)
        tid = transcript_id(tenant_id, raw)
        row = (tid, tenant_id, session_id, request_id, created_ms, len(messages), len(raw), packed)

        def insert(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR IGNORE INTO transcripts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

        await self._store.run(insert)
        return tid

    async def get(self, transcript_id: str) -> Transcript | None:
        def read(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            sql = "SELECT id, tenant_id, session_id, request_id, created_ms, data FROM transcripts WHERE id = ?"
            row: tuple[Any, ...] | None = db.execute(sql, (transcript_id,)).fetchone()
            return row

        row = await self._store.run(read)
        if row is None:
            return None
        return Transcript(row[0], row[1], row[2], row[3], row[4], orjson.loads(zlib.decompress(row[5])))

    async def of_session(self, tenant_id: str, session_id: str) -> list[str]:
        def read(db: sqlite3.Connection) -> list[str]:
            sql = "SELECT id FROM transcripts WHERE tenant_id = ? AND session_id = ? ORDER BY created_ms"
            return [r[0] for r in db.execute(sql, (tenant_id, session_id))]

        return await self._store.run(read)

    async def purge(self, tenant_id: str, before_ms: int) -> int:
        def delete(db: sqlite3.Connection) -> int:
            sql = "DELETE FROM transcripts WHERE tenant_id = ? AND created_ms < ?"
            return int(db.execute(sql, (tenant_id, before_ms)).rowcount)

        return await self._store.run(delete)

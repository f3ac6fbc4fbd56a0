"""The scaled-out admin store: admin tokens, audit log and security events in PostgreSQL.

It keeps a small pool of its own on the shared database. Audit entries from every
replica take one advisory lock, so the chain has one writer at a time; a trigger
refuses UPDATE, DELETE and TRUNCATE on the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import orjson

from tokenops.store.admin import GENESIS, AdminToken, AuditDraft, AuditEntry, KeyRow, SecurityEvent, chain_hash
from tokenops.store.postgres_schema import LOCK_AUDIT, NOW_MS, connect_pool, create_schema

T = TypeVar("T")

_KEY_COLUMNS = "id, tenant_id, prefix, models, status, expires_at, created_ms"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class PostgresAdminStore:
    def __init__(self, dsn: str, schema: str | None = None) -> None:
        self.dsn = dsn
        self.schema = schema
        self._pool: asyncpg.Pool | None = None
        self.on_change: Callable[[], Awaitable[None]] | None = None  # told after each committed change

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("admin store is not open")
        return self._pool

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await connect_pool(self.dsn, self.schema, 3)
            await create_schema(self._pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _tx(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with self.pool.acquire() as conn, conn.transaction():
            result = await fn(conn)
        if self.on_change is not None:
            await self.on_change()
        return result

    async def seed_admin(self, tokens: list[AdminToken], docs: dict[tuple[str, str], dict[str, Any]]) -> None:
        token_rows = [(t.id, t.token_hash, t.role, t.tenant_id, t.status) for t in tokens]
        doc_rows = [(kind, id, _dumps(doc)) for (kind, id), doc in docs.items()]

        async def seed(conn: asyncpg.Connection) -> None:
            await conn.executemany(
                f"INSERT INTO admin_tokens VALUES ($1, $2, $3, $4, $5, {NOW_MS}) ON CONFLICT DO NOTHING", token_rows
            )
            await conn.executemany(
                f"INSERT INTO catalog_objects VALUES ($1, $2, $3, {NOW_MS}) ON CONFLICT DO NOTHING", doc_rows
            )

        await self._tx(seed)

    async def admin_token(self, token_hash: str) -> AdminToken | None:
        sql = "SELECT id, role, tenant_id, token_hash, status FROM admin_tokens WHERE token_hash = $1"
        row = await self.pool.fetchrow(sql, token_hash)
        return AdminToken(*row) if row else None

    async def get_doc(self, kind: str, id: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval("SELECT doc FROM catalog_objects WHERE kind = $1 AND id = $2", kind, id)
        return orjson.loads(doc) if doc is not None else None

    async def docs(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = await self.pool.fetch("SELECT id, doc FROM catalog_objects WHERE kind = $1", kind)
        return {id: orjson.loads(doc) for id, doc in rows}

    async def put_doc(self, kind: str, id: str, doc: dict[str, Any], audit: AuditDraft) -> None:
        async def put(conn: asyncpg.Connection) -> None:
            await conn.execute(
                f"INSERT INTO catalog_objects VALUES ($1, $2, $3, {NOW_MS}) "
                "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
                kind,
                id,
                _dumps(doc),
            )
            await _append(conn, audit)

        await self._tx(put)

    async def keys(self, tenant_id: str | None = None) -> list[KeyRow]:
        sql = f"SELECT {_KEY_COLUMNS} FROM api_keys"
        args: tuple[Any, ...] = ()
        if tenant_id is not None:
            sql, args = sql + " WHERE tenant_id = $1", (tenant_id,)
        rows = await self.pool.fetch(sql + " ORDER BY created_ms, id", *args)
        return [KeyRow(r[0], r[1], r[2], tuple(orjson.loads(r[3])), r[4], r[5], r[6]) for r in rows]

    async def insert_key(self, row: KeyRow, key_hash: str, audit: AuditDraft) -> None:
        values = (row.id, row.tenant_id, key_hash, row.prefix, _dumps(list(row.models)), row.status, row.expires_at,
                  row.created_ms)  # fmt: skip

        async def insert(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", *values)
            await _append(conn, audit)

        await self._tx(insert)

    async def update_key(
        self,
        key_id: str,
        audit: AuditDraft,
        *,
        status: str | None = None,
        key_hash: str | None = None,
        prefix: str | None = None,
    ) -> None:
        async def update(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "UPDATE api_keys SET status = coalesce($1, status), key_hash = coalesce($2, key_hash), "
                "prefix = coalesce($3, prefix) WHERE id = $4",
                status,
                key_hash,
                prefix,
                key_id,
            )
            await _append(conn, audit)

        await self._tx(update)

    async def audit_entries(self, tenant_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        sql = "SELECT * FROM audit_log"
        args: tuple[Any, ...] = ()
        if tenant_id is not None:
            sql, args = sql + " WHERE tenant_id = $1", (tenant_id,)
        rows = await self.pool.fetch(sql + f" ORDER BY seq DESC LIMIT ${len(args) + 1}", *args, limit)
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), orjson.loads(r[7]), r[8], r[9])
            for r in reversed(rows)
        ]

    async def add_event(self, event: SecurityEvent) -> None:
        event.id = int(
            await self.pool.fetchval(
                "INSERT INTO security_events (at_ms, tenant_id, key_id, detector, score, action, evidence) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                event.at_ms,
                event.tenant_id,
                event.key_id,
                event.detector,
                event.score,
                event.action,
                _dumps(event.evidence),
            )
        )

    async def events(self, tenant_id: str | None = None, limit: int = 1000) -> list[SecurityEvent]:
        sql = "SELECT at_ms, tenant_id, key_id, detector, score, action, evidence, id FROM security_events"
        args: tuple[Any, ...] = ()
        if tenant_id is not None:
            sql, args = sql + " WHERE tenant_id = $1", (tenant_id,)
        rows = await self.pool.fetch(sql + f" ORDER BY id DESC LIMIT ${len(args) + 1}", *args, limit)
        return [SecurityEvent(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7]) for r in rows]

    async def version(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(seq), 0) FROM audit_log"))


async def _append(conn: asyncpg.Connection, draft: AuditDraft) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_AUDIT)
    last = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    at_ms = int(await conn.fetchval(f"SELECT {NOW_MS}"))
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    await conn.execute(
        "INSERT INTO audit_log VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        seq, at_ms, draft.actor, draft.action, draft.target, draft.tenant_id, _dumps(draft.before),
        _dumps(draft.after), prev, chain_hash(prev, seq, at_ms, draft),
    )  # fmt: skip

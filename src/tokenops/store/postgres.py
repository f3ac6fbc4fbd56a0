"""The scaled-out store: catalog and usage records in PostgreSQL, shared by every gateway replica.

Usage records are written in batches as one multi-row insert (`unnest` of column arrays),
keyed by request id so a replayed batch stores each record once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson

from tokenops.catalog import Catalog, CatalogSpec
from tokenops.catalog.codec import Decoder
from tokenops.catalog.model import ApiKey
from tokenops.store.base import CATALOG_DOCS, KEY_ROWS, USAGE_COLUMNS, UsageRecord
from tokenops.store.postgres_schema import connect_pool, create_schema, db_now_ms
from tokenops.store.sql import SEEDED, SUMMARY_NAMES, USAGE_SUMMARY, catalog_rows, key_rows, numbered, usage_where

_TYPES = {
    "created_ms": "bigint",
    "status": "int",
    "stream": "bool",
    "input_tokens": "bigint",
    "output_tokens": "bigint",
    "cached_tokens": "bigint",
    "cache_write_tokens": "bigint",
    "reasoning_tokens": "bigint",
    "cache_write_1h_tokens": "bigint",
    "latency_ms": "float8",
    "ttft_ms": "float8",
    "routing_score": "float8",
}
_ARRAYS = ", ".join(f"${i}::{_TYPES.get(c, 'text')}[]" for i, c in enumerate(USAGE_COLUMNS, 1))
INSERT_USAGE = (
    f"INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) SELECT * FROM unnest({_ARRAYS}) "
    "ON CONFLICT (request_id) DO NOTHING"
)


def usage_columns(records: Sequence[UsageRecord]) -> list[list[Any]]:
    """The records as one array per column, the shape `INSERT_USAGE` takes."""
    return [[getattr(r, c) for r in records] for c in USAGE_COLUMNS]


def usage_of(row: asyncpg.Record) -> UsageRecord:
    return UsageRecord(**dict(row.items()))


class PostgresStore:
    def __init__(self, dsn: str, schema: str | None = None, pool_size: int = 8) -> None:
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await connect_pool(self.dsn, self.schema, self.pool_size)
            await create_schema(self._pool)

    async def clock_ms(self) -> int | None:
        return await db_now_ms(self.pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def seed(self, spec: CatalogSpec, hash_key: Callable[[str], str]) -> None:
        now = int(time.time() * 1000)
        rows, keys = catalog_rows(spec, now), key_rows(spec, hash_key, now)
        async with self.pool.acquire() as conn, conn.transaction():  # one statement per table, not per row
            await conn.execute(
                "INSERT INTO catalog_objects SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) "
                "ON CONFLICT DO NOTHING",
                *[list(c) for c in zip(*rows, strict=True)] if rows else ([], [], [], []),
            )
            await conn.execute(
                "INSERT INTO api_keys SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
                "$5::text[], $6::text[], $7::text[], $8::bigint[]) ON CONFLICT DO NOTHING",
                *[list(c) for c in zip(*keys, strict=True)] if keys else ([], [], [], [], [], [], [], []),
            )

    async def seeded(self) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(numbered("SELECT doc FROM catalog_objects WHERE kind = ? AND id = ?"), *SEEDED)
        return orjson.loads(doc) if doc is not None else None

    async def mark_seeded(self, fingerprint: dict[str, Any]) -> None:
        await self.pool.execute(
            numbered("INSERT INTO catalog_objects VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET doc = "
                     "excluded.doc"),
            *SEEDED, orjson.dumps(fingerprint).decode(), int(time.time() * 1000),
        )  # fmt: skip

    async def load_catalog(self) -> Catalog:
        parts: dict[str, dict[str, Any]] = {"tenant": {}, "model": {}, "deployment": {}, "alias": {}}
        async with self.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            docs = await conn.fetch(CATALOG_DOCS)
            rows = await conn.fetch(KEY_ROWS)
        decode = Decoder()
        for kind, name, doc in docs:
            parts[kind][name] = decode(kind, orjson.loads(doc))
        keys = {}
        for row in rows:
            key = ApiKey(row[0], row[1], row[2], row[3], decode.value(orjson.loads(row[4])), row[5], row[6])
            keys[key.key_hash] = key
        return Catalog(parts["tenant"], keys, parts["model"], parts["deployment"], parts["alias"])

    async def write_usage(self, records: Sequence[UsageRecord]) -> None:
        if records:
            await self.pool.execute(INSERT_USAGE, *usage_columns(records))

    async def usage_records(
        self,
        tenant_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        session_id: str | None = None,
    ) -> list[UsageRecord]:
        where, args = usage_where(tenant_id, since_ms, until_ms, session_id)
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records{where} ORDER BY created_ms, request_id"
        return [usage_of(r) for r in await self.pool.fetch(numbered(sql), *args)]

    async def usage_summary(
        self, since_ms: int | None = None, until_ms: int | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        where, args = usage_where(tenant_id, since_ms, until_ms, None)
        rows = await self.pool.fetch(numbered(f"{USAGE_SUMMARY}{where} GROUP BY 1, 2 ORDER BY 1, 2"), *args)
        return [dict(zip(SUMMARY_NAMES, (r[0], r[1], *(int(v) for v in r[2:])), strict=True)) for r in rows]

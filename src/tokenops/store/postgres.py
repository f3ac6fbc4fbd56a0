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
from tokenops.catalog.codec import from_doc, to_doc
from tokenops.catalog.model import ApiKey
from tokenops.store.base import USAGE_COLUMNS, UsageRecord
from tokenops.store.postgres_schema import connect_pool, create_schema, db_now_ms

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
        rows: list[tuple[str, str, str, int]] = []
        for kind, objects in (
            ("tenant", spec.tenants),
            ("model", spec.models),
            ("deployment", spec.deployments),
            ("alias", spec.aliases),
        ):
            rows += [(kind, name, orjson.dumps(to_doc(obj)).decode(), now) for name, obj in objects.items()]
        keys = []
        for k in spec.keys:
            key_hash = k.key_hash or hash_key(k.plaintext or "")
            prefix = (k.plaintext or "")[:8]
            keys.append(
                (k.id, k.tenant_id, key_hash, prefix, orjson.dumps(list(k.models)).decode(), "active", None, now)
            )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany("INSERT INTO catalog_objects VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", rows)
            await conn.executemany(
                "INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING", keys
            )

    async def load_catalog(self) -> Catalog:
        parts: dict[str, dict[str, Any]] = {"tenant": {}, "model": {}, "deployment": {}, "alias": {}}
        async with self.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            for kind, name, doc in await conn.fetch("SELECT kind, id, doc FROM catalog_objects"):
                if kind in parts:
                    parts[kind][name] = from_doc(kind, orjson.loads(doc))
            rows = await conn.fetch("SELECT id, tenant_id, key_hash, prefix, models, status, expires_at FROM api_keys")
        keys = {}
        for row in rows:
            key = ApiKey(row[0], row[1], row[2], row[3], tuple(orjson.loads(row[4])), row[5], row[6])
            keys[key.key_hash] = key
        return Catalog(parts["tenant"], keys, parts["model"], parts["deployment"], parts["alias"])

    async def write_usage(self, records: Sequence[UsageRecord]) -> None:
        if records:
            await self.pool.execute(INSERT_USAGE, *usage_columns(records))

    async def usage_records(self, tenant_id: str | None = None) -> list[UsageRecord]:
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records"
        args: tuple[Any, ...] = ()
        if tenant_id is not None:
            sql, args = sql + " WHERE tenant_id = $1", (tenant_id,)
        return [usage_of(r) for r in await self.pool.fetch(sql + " ORDER BY created_ms, request_id", *args)]

    async def usage_summary(self, since_ms: int | None = None, until_ms: int | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT tenant_id AS tenant, coalesce(model_served, model_requested) AS model, count(*) AS requests, "
            "sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, "
            "sum(cached_tokens)::bigint AS cached_tokens, "
            "sum(CASE WHEN status IN (402, 403, 429) THEN 1 ELSE 0 END)::bigint AS refused, "
            "sum(CASE WHEN status >= 400 AND status NOT IN (402, 403, 429) THEN 1 ELSE 0 END)::bigint AS errors "
            "FROM usage_records "
            "WHERE created_ms >= $1 AND created_ms < $2 GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return [dict(r.items()) for r in await self.pool.fetch(sql, since_ms or 0, until_ms or 2**62)]

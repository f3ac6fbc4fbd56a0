"""PostgreSQL and Redis for the tests: one database per test run (dropped after), one schema
and one Redis key prefix per test, so runs and tests never see each other's data."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.store import ChargingStore
from tokenops.store import SQLiteStore
from tokenops.store.admin import AdminStore
from tokenops.store.postgres import PostgresStore
from tokenops.store.postgres_admin import PostgresAdminStore
from tokenops.store.sqlite_admin import SQLiteAdminStore

PG_ADMIN_DSN = os.environ.get("TOKENOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TOKENOPS_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of this test run's own on the local PostgreSQL; its DSN."""
    name = "tokenops_test_" + secrets.token_hex(4)
    try:
        asyncio.run(_admin(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN_DSN}: {exc}")
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def pg_schema() -> str:
    """A fresh schema name for one test (created by the store on open)."""
    return "t_" + secrets.token_hex(6)


@pytest.fixture(scope="session")
def redis_base() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}: {exc}")
    run = "tokenops-test-" + secrets.token_hex(4) + ":"
    yield run
    keys = list(client.scan_iter(match=run + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_prefix(redis_base: str) -> str:
    """A key prefix of one test's own, inside the run's prefix (all deleted after the run)."""
    return redis_base + secrets.token_hex(4) + ":"


class Backend:
    """One storage backend under contract test: how to open its stores and how to reach it raw."""

    def __init__(self, kind: str, path: Path, dsn: str = "", schema: str = "") -> None:
        self.kind, self.path, self.dsn, self.schema = kind, path, dsn, schema

    def store(self) -> SQLiteStore | PostgresStore:
        if self.kind == "sqlite":
            return SQLiteStore(self.path)
        return PostgresStore(self.dsn, self.schema, pool_size=4)

    def ledger(self, store: SQLiteStore | PostgresStore) -> ChargingStore:
        if isinstance(store, SQLiteStore):
            return ChargingSQLite(store)
        return ChargingPostgres(store)

    def admin(self) -> AdminStore:
        if self.kind == "sqlite":
            return SQLiteAdminStore(self.path)
        return PostgresAdminStore(self.dsn, self.schema)

    async def execute(self, *statements: str) -> None:
        """Run SQL behind the stores' back (as someone with direct database access would)."""
        if self.kind == "sqlite":
            db = sqlite3.connect(self.path)
            try:
                for sql in statements:
                    db.execute(sql)
                db.commit()
            finally:
                db.close()
            return

        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()


BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path / "tokenops.db")
    dsn = request.getfixturevalue("pg_database")
    return Backend("postgres", tmp_path / "unused", dsn, "t_" + secrets.token_hex(6))

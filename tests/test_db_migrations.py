"""`tokenops db upgrade`: one migration history that creates, adopts and upgrades SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from tests.test_store_upgrade import V1_USAGE
from tokenops import migrations
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.store import HoldRow
from tokenops.cli.main import main
from tokenops.sessions import SQLiteTranscripts
from tokenops.store import SQLiteStore
from tokenops.store.backing import Backing
from tokenops.store.postgres import PostgresStore
from tokenops.store.sqlite_admin import SQLiteAdminStore

V1_POSTGRES = """
CREATE TABLE usage_records (
    request_id TEXT PRIMARY KEY, created_ms BIGINT NOT NULL, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL,
    api TEXT NOT NULL, model_requested TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,
    session_id TEXT, correlation_id TEXT, end_user TEXT, model_served TEXT, deployment_id TEXT, region TEXT,
    stream BOOLEAN NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL, usage_source TEXT NOT NULL, error_code TEXT,
    latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION
);
INSERT INTO usage_records VALUES ('req_old', 1, 't', 'k', 'chat.completions', 'm', 200, 'ok', NULL, NULL, NULL,
    'm', 'd', 'r', false, 10, 20, 0, 'upstream', NULL, 1.5, NULL);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, currency TEXT NOT NULL,
    limit_minor BIGINT NOT NULL, balance_minor BIGINT NOT NULL, created_ms BIGINT NOT NULL
);
INSERT INTO accounts VALUES ('acme', 'prepaid', 'EUR', 0, 12345, 1);
CREATE TABLE reservations (
    request_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, amount_minor BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL
);
INSERT INTO reservations VALUES ('req_open', 'acme', 300, 2, 1);
"""


def sqlite_columns(path: Path) -> dict[str, list[tuple[str, str, int]]]:
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [(r[1], r[2], r[3]) for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        db.close()


async def open_every_sqlite_store(path: Path) -> None:
    store, admin = SQLiteStore(path), SQLiteAdminStore(path)
    await store.open()
    await admin.open()
    try:
        await ChargingSQLite(store).open()
        await SQLiteTranscripts(store).open()
    finally:
        await admin.close()
        await store.close()


def test_a_fresh_sqlite_file_gets_exactly_the_tables_the_stores_create(tmp_path: Path) -> None:
    assert main(["db", "upgrade", "--home", str(tmp_path / "migrated")]) == 0
    asyncio.run(open_every_sqlite_store(tmp_path / "opened.db"))
    migrated = sqlite_columns(tmp_path / "migrated" / "tokenops.db")
    assert migrated.pop("alembic_version")
    assert migrated == sqlite_columns(tmp_path / "opened.db")


def test_an_old_sqlite_file_upgrades_in_place_keeping_its_rows_and_a_second_upgrade_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tokenops.db"
    db = sqlite3.connect(path)
    db.executescript(V1_USAGE)
    db.close()
    assert main(["db", "upgrade", "--home", str(tmp_path)]) == 0
    assert migrations.sqlite_revision(path) == migrations.head()
    after_first = sqlite_columns(path)
    assert main(["db", "upgrade", "--home", str(tmp_path)]) == 0
    assert sqlite_columns(path) == after_first

    async def read() -> list[tuple[str, int, int, float | None]]:
        store = SQLiteStore(path)
        await store.open()
        try:
            return [(r.request_id, r.output_tokens, r.cache_write_tokens, r.routing_score) for r in
                    await store.usage_records()]  # fmt: skip
        finally:
            await store.close()

    assert asyncio.run(read()) == [("req_old", 20, 0, None)]


def test_a_file_the_stores_created_on_open_is_stamped_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "tokenops.db"
    asyncio.run(open_every_sqlite_store(path))
    db = sqlite3.connect(path)
    db.execute("INSERT INTO charging_config VALUES ('prices', '{}')")
    db.commit()
    db.close()
    before = sqlite_columns(path)
    migrations.upgrade(Backing(), tmp_path)
    assert migrations.sqlite_revision(path) == migrations.head()
    after = sqlite_columns(path)
    after.pop("alembic_version")
    assert after == before
    db = sqlite3.connect(path)
    assert db.execute("SELECT key FROM charging_config").fetchall() == [("prices",)]
    db.close()


async def pg_columns(dsn: str, schema: str) -> dict[str, list[tuple[str, str, str, str | None]]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
            schema,
        )
    finally:
        await conn.close()
    out: dict[str, list[tuple[str, str, str, str | None]]] = {}
    for r in rows:
        out.setdefault(r[0], []).append((r[1], r[2], r[3], r[4]))
    return out


async def pg_run(dsn: str, schema: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"; SET search_path TO "{schema}"')
        if sql.lstrip().upper().startswith("SELECT"):
            return list(await conn.fetch(sql))
        await conn.execute(sql)
        return []
    finally:
        await conn.close()


def test_a_fresh_postgres_schema_gets_exactly_the_tables_the_stores_create(pg_database: str, pg_schema: str) -> None:
    opened = pg_schema + "_opened"

    async def open_store() -> None:
        store = PostgresStore(pg_database, opened, pool_size=1)
        await store.open()
        await store.close()

    migrations.upgrade(Backing(pg_database, schema=pg_schema), Path("unused"))
    asyncio.run(open_store())
    migrated = asyncio.run(pg_columns(pg_database, pg_schema))
    assert migrated.pop("alembic_version")
    assert migrated == asyncio.run(pg_columns(pg_database, opened))


def test_an_old_postgres_schema_upgrades_in_place_keeping_its_rows_and_a_second_upgrade_changes_nothing(
    pg_database: str, pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(pg_run(pg_database, pg_schema, V1_POSTGRES))
    backing = Backing(pg_database, schema=pg_schema)
    assert migrations.upgrade(backing, tmp_path) == migrations.head()
    after_first = asyncio.run(pg_columns(pg_database, pg_schema))
    monkeypatch.setenv("TOKENOPS_DATABASE_SCHEMA", pg_schema)
    assert main(["db", "upgrade", "--database-url", pg_database]) == 0
    assert asyncio.run(pg_columns(pg_database, pg_schema)) == after_first
    [version] = asyncio.run(pg_run(pg_database, pg_schema, "SELECT version_num FROM alembic_version"))
    assert version[0] == migrations.head()

    async def read() -> tuple[list[tuple[str, int, int]], int, list[HoldRow]]:
        store = PostgresStore(pg_database, pg_schema, pool_size=1)
        await store.open()
        try:
            rows = [(r.request_id, r.output_tokens, r.cache_write_tokens) for r in await store.usage_records()]
            balance = await store.pool.fetchval("SELECT balance_units FROM accounts WHERE id = 'acme'")
            return rows, balance, await ChargingPostgres(store).open_holds()
        finally:
            await store.close()

    # a reservation from before owners were recorded has none: the first live replica takes it over
    # 123.45 EUR and a 3.00 EUR reservation, in cents before and in millionths after
    held = [HoldRow("req_open", "acme", 3_000_000, 2, 1, "")]
    assert asyncio.run(read()) == ([("req_old", 20, 0)], 123_450_000, held)


@pytest.mark.parametrize("url", ["mysql://somewhere/db"])
def test_a_database_url_that_is_not_postgres_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgresql"):
        migrations.upgrade(Backing(url), tmp_path)

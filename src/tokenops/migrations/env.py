"""Alembic's entry point: one migration history for the SQLite file and for PostgreSQL.

PostgreSQL is reached through SQLAlchemy's asyncpg dialect (the driver the gateway uses
anyway), so no second PostgreSQL driver is needed. Replicas upgrading together take
turns on the same advisory lock the stores use for their schema.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from tokenops.store.postgres_schema import LOCK_SCHEMA

config = context.config


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": LOCK_SCHEMA})
        context.run_migrations()


async def _migrate_postgres(url: str, schema: str | None) -> None:
    settings = {"search_path": schema} if schema else {}
    engine = create_async_engine(url, poolclass=pool.NullPool, connect_args={"server_settings": settings})
    try:
        async with engine.connect() as conn:
            if schema:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await conn.commit()
            await conn.run_sync(_migrate)
    finally:
        await engine.dispose()


def run() -> None:
    url: str = config.attributes["url"]
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                _migrate(conn)
        finally:
            engine.dispose()
    else:
        asyncio.run(_migrate_postgres(url, config.attributes.get("schema")))


if context.is_offline_mode():
    raise SystemExit("tokenops migrations run online only")
run()

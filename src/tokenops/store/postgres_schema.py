"""The PostgreSQL schema of every store (catalog, usage, ledger, admin) and how to connect to it.

All replicas share one database; the tables mirror the embedded SQLite file's, with
integer money and millisecond times as BIGINT. The audit log refuses UPDATE, DELETE
and TRUNCATE by trigger, as the embedded one does.
"""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg

from tokenops.store.ops_schema import postgres_ops

# one advisory lock number per serialised concern (any constant unique within this database)
LOCK_SCHEMA = 0x746F6B00
LOCK_LEDGER = 0x746F6B01
LOCK_AUDIT = 0x746F6B02
LOCK_VERIFY = 0x746F6B0A

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
    models TEXT NOT NULL, status TEXT NOT NULL, expires_at TEXT, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage_records (
    request_id TEXT PRIMARY KEY, created_ms BIGINT NOT NULL, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL,
    api TEXT NOT NULL, model_requested TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,
    session_id TEXT, correlation_id TEXT, end_user TEXT, model_served TEXT, deployment_id TEXT, region TEXT,
    stream BOOLEAN NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT NULL DEFAULT 0, usage_source TEXT NOT NULL,
    error_code TEXT, latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION,
    routing_score DOUBLE PRECISION, routing_choice TEXT,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0, cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS usage_by_tenant_time ON usage_records (tenant_id, created_ms);
CREATE INDEX IF NOT EXISTS usage_by_session ON usage_records (tenant_id, session_id, created_ms);
CREATE INDEX IF NOT EXISTS usage_by_time ON usage_records (created_ms);
CREATE TABLE IF NOT EXISTS charging_config (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, currency TEXT NOT NULL,
    limit_units BIGINT NOT NULL, balance_units BIGINT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL, kind TEXT NOT NULL,
    amount_units BIGINT NOT NULL, idem_key TEXT NOT NULL UNIQUE, body_hash TEXT NOT NULL,
    request_id TEXT, created_ms BIGINT NOT NULL, meta TEXT NOT NULL, writer TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL, hashed_digits INTEGER NOT NULL DEFAULT 6
);
CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger_entries (account_id, seq);
CREATE INDEX IF NOT EXISTS ledger_by_account_time ON ledger_entries (account_id, created_ms);
CREATE INDEX IF NOT EXISTS ledger_by_kind_time ON ledger_entries (kind, created_ms);
CREATE TABLE IF NOT EXISTS package_grants (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, package_id TEXT NOT NULL, models TEXT NOT NULL,
    total BIGINT NOT NULL, used BIGINT NOT NULL, starts_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL, usable_until_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    request_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, amount_units BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL, owner TEXT NOT NULL DEFAULT '', interim TEXT
);
CREATE TABLE IF NOT EXISTS replicas (writer TEXT PRIMARY KEY, seen_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS plan_subscriptions (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, key_id TEXT, plan_id TEXT NOT NULL, terms TEXT NOT NULL,
    starts_ms BIGINT NOT NULL, ends_ms BIGINT
);
CREATE TABLE IF NOT EXISTS plan_allowances (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, subscription_id TEXT NOT NULL, models TEXT NOT NULL,
    total BIGINT NOT NULL, used BIGINT NOT NULL, starts_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL, usable_until_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS voucher_batches (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, amount_units BIGINT NOT NULL, package_id TEXT, currency TEXT NOT NULL,
    expires_ms BIGINT NOT NULL, tenants TEXT NOT NULL, tenant_kinds TEXT NOT NULL, count BIGINT NOT NULL,
    note TEXT NOT NULL, created_by TEXT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS vouchers (
    code_hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, batch_id TEXT NOT NULL, status TEXT NOT NULL,
    redeemed_by TEXT, redeemed_ms BIGINT, entry_key TEXT
);
CREATE INDEX IF NOT EXISTS vouchers_by_batch ON vouchers (batch_id);
CREATE TABLE IF NOT EXISTS voucher_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms BIGINT NOT NULL, tenant_id TEXT NOT NULL, address TEXT NOT NULL, outcome TEXT NOT NULL, voucher_id TEXT
);
CREATE INDEX IF NOT EXISTS voucher_attempts_by_time ON voucher_attempts (at_ms);
CREATE TABLE IF NOT EXISTS budget_alerts (
    budget_id TEXT NOT NULL, subject TEXT NOT NULL, period TEXT NOT NULL, threshold BIGINT NOT NULL,
    spent BIGINT NOT NULL, limit_value BIGINT NOT NULL, at_ms BIGINT NOT NULL,
    PRIMARY KEY (budget_id, subject, period, threshold)
);
CREATE TABLE IF NOT EXISTS verify_checkpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at_ms BIGINT NOT NULL, mode TEXT NOT NULL,
    through_seq BIGINT NOT NULL, usage_ms BIGINT NOT NULL, usage_id TEXT NOT NULL, entries BIGINT NOT NULL,
    usage_records BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS verify_heads (
    account_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, balance_units BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_tokens (
    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, tenant_id TEXT,
    status TEXT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    tenant_id TEXT, before TEXT NOT NULL, after TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION tokenops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tokenops_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tokenops_append_only();
CREATE TABLE IF NOT EXISTS security_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at_ms BIGINT NOT NULL, tenant_id TEXT NOT NULL,
    key_id TEXT NOT NULL, detector TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, action TEXT NOT NULL,
    evidence TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS security_events_by_tenant ON security_events (tenant_id, at_ms);
""" + postgres_ops(LOCK_LEDGER)

NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


async def connect_pool(dsn: str, schema: str | None = None, size: int = 8) -> asyncpg.Pool:
    """A pool on `dsn`; `schema` (created if missing) isolates one deployment or test run in a shared database."""
    settings = {"search_path": schema} if schema else {}
    if schema:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            await conn.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, server_settings=settings)
    return pool


# What SCHEMA made, recorded beside it: a replica starting on a database that already has it runs no DDL, since
# the DDL (indexes, triggers) locks the busiest tables against the other replicas' writes, and can deadlock with them.
SCHEMA_DIGEST = hashlib.sha256(SCHEMA.encode()).hexdigest()
_STATE = "CREATE TABLE IF NOT EXISTS schema_state (digest TEXT PRIMARY KEY)"


async def _made(conn: Any) -> bool:
    if await conn.fetchval("SELECT to_regclass('schema_state')") is None:
        return False
    return bool(await conn.fetchval("SELECT count(*) FROM schema_state WHERE digest = $1", SCHEMA_DIGEST))


async def create_schema(pool: asyncpg.Pool) -> None:
    """Create what is missing, unless this very schema was made already; replicas starting together take turns
    (the DDL is not race-free on its own)."""
    async with pool.acquire() as conn:
        if await _made(conn):
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_SCHEMA)
            if await _made(conn):
                return
            await conn.execute(SCHEMA)
            await conn.execute(_STATE)
            await conn.execute("DELETE FROM schema_state")
            await conn.execute("INSERT INTO schema_state VALUES ($1)", SCHEMA_DIGEST)


async def db_now_ms(conn: Any) -> int:
    """The database's clock: the one time every replica agrees on."""
    return int(await conn.fetchval(f"SELECT {NOW_MS}"))

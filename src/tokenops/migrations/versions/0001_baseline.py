"""Baseline: every store's tables as the release before migrations created them on open.

Revision ID: 0001_baseline
Revises:

The statements are frozen here (later schema changes are new revisions, never edits of
this one). Each creates only what is missing, so a database whose tables the stores
made on open is adopted as it is; usage columns added by later releases before
migrations existed are added when absent, keeping every row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

SQLITE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS catalog_objects (kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, "
        "created_ms INTEGER NOT NULL, PRIMARY KEY (kind, id))"
    ),
    (
        "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_hash TEXT NOT "
        "NULL UNIQUE, prefix TEXT NOT NULL, models TEXT NOT NULL, status TEXT NOT NULL, expires_at TEXT, "
        "created_ms INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS usage_records (request_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, "
        "tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, api TEXT NOT NULL, model_requested TEXT NOT NULL, "
        "status INTEGER NOT NULL, outcome TEXT NOT NULL, session_id TEXT, correlation_id TEXT, end_user TEXT, "
        "model_served TEXT, deployment_id TEXT, region TEXT, stream INTEGER NOT NULL, input_tokens INTEGER "
        "NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, cache_write_tokens INTEGER "
        "NOT NULL DEFAULT 0, usage_source TEXT NOT NULL, error_code TEXT, latency_ms REAL NOT NULL, ttft_ms "
        "REAL, routing_score REAL, routing_choice TEXT)"
    ),
    "CREATE INDEX IF NOT EXISTS usage_by_tenant_time ON usage_records (tenant_id, created_ms)",
    "CREATE TABLE IF NOT EXISTS charging_config (key TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, type TEXT NOT NULL, currency TEXT NOT "
        "NULL, limit_minor INTEGER NOT NULL, balance_minor INTEGER NOT NULL, created_ms INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS ledger_entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, account_id TEXT "
        "NOT NULL, kind TEXT NOT NULL, amount_minor INTEGER NOT NULL, idem_key TEXT NOT NULL UNIQUE, "
        "body_hash TEXT NOT NULL, request_id TEXT, created_ms INTEGER NOT NULL, meta TEXT NOT NULL, writer "
        "TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger_entries (account_id, seq)",
    (
        "CREATE TABLE IF NOT EXISTS package_grants (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, package_id "
        "TEXT NOT NULL, models TEXT NOT NULL, total INTEGER NOT NULL, used INTEGER NOT NULL, starts_ms "
        "INTEGER NOT NULL, expires_ms INTEGER NOT NULL, usable_until_ms INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS reservations (request_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, "
        "amount_minor INTEGER NOT NULL, expires_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS budget_alerts (budget_id TEXT NOT NULL, subject TEXT NOT NULL, period "
        "TEXT NOT NULL, threshold INTEGER NOT NULL, spent INTEGER NOT NULL, limit_value INTEGER NOT NULL, "
        "at_ms INTEGER NOT NULL, PRIMARY KEY (budget_id, subject, period, threshold))"
    ),
    (
        "CREATE TABLE IF NOT EXISTS admin_tokens (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, role "
        "TEXT NOT NULL, tenant_id TEXT, status TEXT NOT NULL, created_ms INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS audit_log (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, actor TEXT "
        "NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, tenant_id TEXT, before TEXT NOT NULL, after "
        "TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT "
        "RAISE(ABORT, 'audit log is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT "
        "RAISE(ABORT, 'audit log is append-only'); END"
    ),
    (
        "CREATE TABLE IF NOT EXISTS security_events (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT "
        "NULL, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, detector TEXT NOT NULL, score REAL NOT NULL, "
        "action TEXT NOT NULL, evidence TEXT NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS security_events_by_tenant ON security_events (tenant_id, at_ms)",
    (
        "CREATE TABLE IF NOT EXISTS transcripts (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, session_id "
        "TEXT, request_id TEXT NOT NULL, created_ms INTEGER NOT NULL, messages INTEGER NOT NULL, size INTEGER "
        "NOT NULL, data BLOB NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS transcripts_by_session ON transcripts (tenant_id, session_id)",
)

POSTGRES = (
    (
        "CREATE TABLE IF NOT EXISTS catalog_objects (kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, "
        "created_ms BIGINT NOT NULL, PRIMARY KEY (kind, id))"
    ),
    (
        "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_hash TEXT NOT "
        "NULL UNIQUE, prefix TEXT NOT NULL, models TEXT NOT NULL, status TEXT NOT NULL, expires_at TEXT, "
        "created_ms BIGINT NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS usage_records (request_id TEXT PRIMARY KEY, created_ms BIGINT NOT NULL, "
        "tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, api TEXT NOT NULL, model_requested TEXT NOT NULL, "
        "status INTEGER NOT NULL, outcome TEXT NOT NULL, session_id TEXT, correlation_id TEXT, end_user TEXT, "
        "model_served TEXT, deployment_id TEXT, region TEXT, stream BOOLEAN NOT NULL, input_tokens BIGINT NOT "
        "NULL, output_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT "
        "NULL DEFAULT 0, usage_source TEXT NOT NULL, error_code TEXT, latency_ms DOUBLE PRECISION NOT NULL, "
        "ttft_ms DOUBLE PRECISION, routing_score DOUBLE PRECISION, routing_choice TEXT)"
    ),
    "CREATE INDEX IF NOT EXISTS usage_by_tenant_time ON usage_records (tenant_id, created_ms)",
    "CREATE TABLE IF NOT EXISTS charging_config (key TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, type TEXT NOT NULL, currency TEXT NOT "
        "NULL, limit_minor BIGINT NOT NULL, balance_minor BIGINT NOT NULL, created_ms BIGINT NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS ledger_entries (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "account_id TEXT NOT NULL, kind TEXT NOT NULL, amount_minor BIGINT NOT NULL, idem_key TEXT NOT NULL "
        "UNIQUE, body_hash TEXT NOT NULL, request_id TEXT, created_ms BIGINT NOT NULL, meta TEXT NOT NULL, "
        "writer TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger_entries (account_id, seq)",
    (
        "CREATE TABLE IF NOT EXISTS package_grants (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, package_id "
        "TEXT NOT NULL, models TEXT NOT NULL, total BIGINT NOT NULL, used BIGINT NOT NULL, starts_ms BIGINT "
        "NOT NULL, expires_ms BIGINT NOT NULL, usable_until_ms BIGINT NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS reservations (request_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, "
        "amount_minor BIGINT NOT NULL, expires_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS budget_alerts (budget_id TEXT NOT NULL, subject TEXT NOT NULL, period "
        "TEXT NOT NULL, threshold BIGINT NOT NULL, spent BIGINT NOT NULL, limit_value BIGINT NOT NULL, at_ms "
        "BIGINT NOT NULL, PRIMARY KEY (budget_id, subject, period, threshold))"
    ),
    (
        "CREATE TABLE IF NOT EXISTS admin_tokens (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, role "
        "TEXT NOT NULL, tenant_id TEXT, status TEXT NOT NULL, created_ms BIGINT NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS audit_log (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT "
        "NULL, action TEXT NOT NULL, target TEXT NOT NULL, tenant_id TEXT, before TEXT NOT NULL, after TEXT "
        "NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
    ),
    (
        "CREATE OR REPLACE FUNCTION tokenops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
        "EXCEPTION 'audit log is append-only'; END $$"
    ),
    (
        "CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW "
        "EXECUTE FUNCTION tokenops_append_only()"
    ),
    (
        "CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT "
        "EXECUTE FUNCTION tokenops_append_only()"
    ),
    (
        "CREATE TABLE IF NOT EXISTS security_events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "at_ms BIGINT NOT NULL, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, detector TEXT NOT NULL, score "
        "DOUBLE PRECISION NOT NULL, action TEXT NOT NULL, evidence TEXT NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS security_events_by_tenant ON security_events (tenant_id, at_ms)",
)

# usage columns an earlier release lacked (its files and schemas are upgraded in place)
ADDED_USAGE_COLUMNS = {
    "sqlite": (
        ("cache_write_tokens", "INTEGER NOT NULL DEFAULT 0"),
        ("routing_score", "REAL"),
        ("routing_choice", "TEXT"),
    ),
    "postgresql": (
        ("cache_write_tokens", "BIGINT NOT NULL DEFAULT 0"),
        ("routing_score", "DOUBLE PRECISION"),
        ("routing_choice", "TEXT"),
    ),
}


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if sa.inspect(bind).has_table("usage_records"):
        present = {c["name"] for c in sa.inspect(bind).get_columns("usage_records")}
        for name, kind in ADDED_USAGE_COLUMNS[dialect]:
            if name not in present:
                op.execute(f"ALTER TABLE usage_records ADD COLUMN {name} {kind}")
    for statement in SQLITE if dialect == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")

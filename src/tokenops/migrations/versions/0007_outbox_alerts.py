"""The export outbox (every usage record and ledger entry, written by trigger in the same transaction) and the
alerts with their webhook deliveries.

Revision ID: 0007_outbox_alerts
Revises: 0005_usage_details

Rows already stored are not put in the outbox: the export starts with what is written after the
upgrade. The statements are frozen here, as the stores created them when this revision was made.
"""

from __future__ import annotations

from alembic import op

revision = "0007_outbox_alerts"
down_revision = "0006_plans_vouchers"
branch_labels = None
depends_on = None

SQLITE = (
    """
CREATE TABLE IF NOT EXISTS export_outbox (
    pos INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, ref TEXT NOT NULL, at_ms INTEGER NOT NULL
)
    """,
    """
CREATE TABLE IF NOT EXISTS export_cursors (
    sink TEXT PRIMARY KEY, position INTEGER NOT NULL, owner TEXT NOT NULL, lease_until_ms INTEGER NOT NULL,
    published INTEGER NOT NULL, error TEXT, updated_ms INTEGER NOT NULL
)
    """,
    """
CREATE TRIGGER IF NOT EXISTS usage_records_outbox AFTER INSERT ON usage_records
BEGIN INSERT INTO export_outbox (kind, ref, at_ms) VALUES ('usage', NEW.request_id, NEW.created_ms); END
    """,
    """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, tenant_id TEXT,
    at_ms INTEGER NOT NULL, payload TEXT NOT NULL
)
    """,
    """
CREATE INDEX IF NOT EXISTS alerts_by_tenant ON alerts (tenant_id, seq)
    """,
    """
CREATE TABLE IF NOT EXISTS alert_deliveries (
    webhook TEXT NOT NULL, alert_seq INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_ms INTEGER NOT NULL, last_status INTEGER, last_error TEXT, delivered_ms INTEGER,
    PRIMARY KEY (webhook, alert_seq)
)
    """,
    """
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (webhook, alert_seq) WHERE status = 'pending'
    """,
    """
CREATE TABLE IF NOT EXISTS alert_marks (key TEXT PRIMARY KEY, value TEXT NOT NULL, until_ms INTEGER NOT NULL)
    """,
    """
CREATE TRIGGER IF NOT EXISTS ledger_entries_outbox AFTER INSERT ON ledger_entries
BEGIN INSERT INTO export_outbox (kind, ref, at_ms) VALUES ('ledger', CAST(NEW.seq AS TEXT), NEW.created_ms); END
    """,
)

POSTGRES = (
    """
CREATE TABLE IF NOT EXISTS export_outbox (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, at_ms BIGINT NOT NULL
)
    """,
    """
CREATE TABLE IF NOT EXISTS export_cursors (
    sink TEXT PRIMARY KEY, position BIGINT NOT NULL, owner TEXT NOT NULL, lease_until_ms BIGINT NOT NULL,
    published BIGINT NOT NULL, error TEXT, updated_ms BIGINT NOT NULL
)
    """,
    """
CREATE TABLE IF NOT EXISTS alerts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    tenant_id TEXT, at_ms BIGINT NOT NULL, payload TEXT NOT NULL
)
    """,
    """
CREATE INDEX IF NOT EXISTS alerts_by_tenant ON alerts (tenant_id, seq)
    """,
    """
CREATE TABLE IF NOT EXISTS alert_deliveries (
    webhook TEXT NOT NULL, alert_seq BIGINT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_ms BIGINT NOT NULL, last_status INTEGER, last_error TEXT, delivered_ms BIGINT,
    PRIMARY KEY (webhook, alert_seq)
)
    """,
    """
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (webhook, alert_seq) WHERE status = 'pending'
    """,
    """
CREATE TABLE IF NOT EXISTS alert_marks (key TEXT PRIMARY KEY, value TEXT NOT NULL, until_ms BIGINT NOT NULL)
    """,
    """
CREATE OR REPLACE FUNCTION tokenops_outbox_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1953458945);
    INSERT INTO export_outbox (kind, ref, at_ms) SELECT 'usage', request_id, created_ms FROM new_rows;
    RETURN NULL;
END $$
    """,
    """
CREATE OR REPLACE FUNCTION tokenops_outbox_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1953458945);
    INSERT INTO export_outbox (kind, ref, at_ms) SELECT 'ledger', seq::text, created_ms FROM new_rows ORDER BY seq;
    RETURN NULL;
END $$
    """,
    """
CREATE OR REPLACE TRIGGER usage_records_outbox AFTER INSERT ON usage_records
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tokenops_outbox_usage()
    """,
    """
CREATE OR REPLACE TRIGGER ledger_entries_outbox AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tokenops_outbox_ledger()
    """,
)


def upgrade() -> None:
    statements = POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for trigger, table in (("usage_records_outbox", "usage_records"), ("ledger_entries_outbox", "ledger_entries")):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS tokenops_outbox_usage(), tokenops_outbox_ledger()")
    for table in ("alert_marks", "alert_deliveries", "alerts", "export_cursors", "export_outbox"):
        op.execute(f"DROP TABLE IF EXISTS {table}")

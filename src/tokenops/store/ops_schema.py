"""The operations tables: the export outbox and the alerts with their webhook deliveries.

Every usage record and ledger entry inserted leaves one outbox row in the same transaction (a
trigger on each table, so no writer can skip it), numbered in commit order. The relay
(`tokenops.export`) reads the rows after its position and publishes the events they name. On
PostgreSQL the triggers take the ledger's advisory lock, so positions are handed out in commit
order across replicas: a reader that has seen position N never later meets a smaller one committed.
"""

from __future__ import annotations

SQLITE_OPS = """
CREATE TABLE IF NOT EXISTS export_outbox (
    pos INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, ref TEXT NOT NULL, at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS export_cursors (
    sink TEXT PRIMARY KEY, position INTEGER NOT NULL, owner TEXT NOT NULL, lease_until_ms INTEGER NOT NULL,
    published INTEGER NOT NULL, error TEXT, updated_ms INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS usage_records_outbox AFTER INSERT ON usage_records
BEGIN INSERT INTO export_outbox (kind, ref, at_ms) VALUES ('usage', NEW.request_id, NEW.created_ms); END;
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, tenant_id TEXT,
    at_ms INTEGER NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_tenant ON alerts (tenant_id, seq);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    webhook TEXT NOT NULL, alert_seq INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_ms INTEGER NOT NULL, last_status INTEGER, last_error TEXT, delivered_ms INTEGER,
    PRIMARY KEY (webhook, alert_seq)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (webhook, alert_seq) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS alert_marks (key TEXT PRIMARY KEY, value TEXT NOT NULL, until_ms INTEGER NOT NULL);
"""

SQLITE_LEDGER_OUTBOX = """
CREATE TRIGGER IF NOT EXISTS ledger_entries_outbox AFTER INSERT ON ledger_entries
BEGIN INSERT INTO export_outbox (kind, ref, at_ms) VALUES ('ledger', CAST(NEW.seq AS TEXT), NEW.created_ms); END;
"""

def postgres_ops(lock: int) -> str:
    """The PostgreSQL tables; `lock`: the ledger's advisory lock, which every outbox writer takes."""
    return _POSTGRES_OUTBOX.replace("LOCK_LEDGER", str(lock))


_POSTGRES_OUTBOX = """
CREATE TABLE IF NOT EXISTS export_outbox (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS export_cursors (
    sink TEXT PRIMARY KEY, position BIGINT NOT NULL, owner TEXT NOT NULL, lease_until_ms BIGINT NOT NULL,
    published BIGINT NOT NULL, error TEXT, updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    tenant_id TEXT, at_ms BIGINT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_tenant ON alerts (tenant_id, seq);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    webhook TEXT NOT NULL, alert_seq BIGINT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_ms BIGINT NOT NULL, last_status INTEGER, last_error TEXT, delivered_ms BIGINT,
    PRIMARY KEY (webhook, alert_seq)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (webhook, alert_seq) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS alert_marks (key TEXT PRIMARY KEY, value TEXT NOT NULL, until_ms BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION tokenops_outbox_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(LOCK_LEDGER);
    INSERT INTO export_outbox (kind, ref, at_ms) SELECT 'usage', request_id, created_ms FROM new_rows;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION tokenops_outbox_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(LOCK_LEDGER);
    INSERT INTO export_outbox (kind, ref, at_ms) SELECT 'ledger', seq::text, created_ms FROM new_rows ORDER BY seq;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER usage_records_outbox AFTER INSERT ON usage_records
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tokenops_outbox_usage();
CREATE OR REPLACE TRIGGER ledger_entries_outbox AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tokenops_outbox_ledger();
"""

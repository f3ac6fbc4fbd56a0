"""Indexes for the reads an operator-scale store makes: a tenant's session, every tenant's period, an
account's recent charges, the charges of a period, a tenant's transcripts by age.

Revision ID: 0008_scale
Revises: 0007_outbox_alerts

Indexes, and on PostgreSQL the table where a store records which schema it made (so a replica
starting on a live database runs no DDL against the other replicas' writes). No row changes.
Each index is created where its table exists (a new database gets them from the stores as they
create their tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_scale"
down_revision = "0007_outbox_alerts"
branch_labels = None
depends_on = None

INDEXES = {
    "usage_records": (
        ("usage_by_session", "tenant_id, session_id, created_ms"),
        ("usage_by_time", "created_ms"),
    ),
    "ledger_entries": (
        ("ledger_by_account_time", "account_id, created_ms"),
        ("ledger_by_kind_time", "kind, created_ms"),
    ),
    "transcripts": (("transcripts_by_tenant_time", "tenant_id, created_ms"),),
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE IF NOT EXISTS schema_state (digest TEXT PRIMARY KEY)")
    for table, indexes in INDEXES.items():
        if not inspector.has_table(table):
            continue
        for name, columns in indexes:
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS schema_state")
    for indexes in INDEXES.values():
        for name, _ in indexes:
            op.execute(f"DROP INDEX IF EXISTS {name}")

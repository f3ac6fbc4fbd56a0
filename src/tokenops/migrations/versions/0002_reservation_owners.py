"""Reservations name the process that holds them; replicas sharing PostgreSQL beat a heart.

Revision ID: 0002_reservation_owners
Revises: 0001_baseline

A reservation left open by a replica that died is closed by a live one once the dead
one's heartbeat (`replicas.seen_ms`, on the database's clock) is stale. Rows from before
this revision have no owner, so the first replica to look takes them over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_reservation_owners"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    present = {c["name"] for c in sa.inspect(bind).get_columns("reservations")}
    if "owner" not in present:
        op.execute("ALTER TABLE reservations ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
    if bind.dialect.name == "postgresql":  # the embedded file has one process: nothing to beat for
        op.execute("CREATE TABLE IF NOT EXISTS replicas (writer TEXT PRIMARY KEY, seen_ms BIGINT NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS replicas")
    op.execute("ALTER TABLE reservations DROP COLUMN owner")

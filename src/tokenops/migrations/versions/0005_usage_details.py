"""Usage records keep reasoning tokens and hour-long cache writes, priced apart.

Revision ID: 0005_usage_details
Revises: 0004_interim_usage

`usage_records.reasoning_tokens` (of the output tokens) and `cache_write_1h_tokens` (of the
cache writes) default to 0: a record made before counted both inside output tokens and
cache writes, and was charged so; its charge stays as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_usage_details"
down_revision = "0004_interim_usage"
branch_labels = None
depends_on = None

_COLUMNS = ("reasoning_tokens", "cache_write_1h_tokens")


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table("usage_records"):
        return  # a new database: the store creates the table with the columns
    kind = "BIGINT" if bind.dialect.name == "postgresql" else "INTEGER"  # as each store creates them
    present = {c["name"] for c in inspector.get_columns("usage_records")}
    for name in _COLUMNS:
        if name not in present:
            op.execute(f"ALTER TABLE usage_records ADD COLUMN {name} {kind} NOT NULL DEFAULT 0")


def downgrade() -> None:
    for name in _COLUMNS:
        op.execute(f"ALTER TABLE usage_records DROP COLUMN {name}")

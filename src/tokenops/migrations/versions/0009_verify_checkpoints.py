"""Checkpoints of `ledger verify`: each run that found nothing wrong, and each account's chain head at the last.

Revision ID: 0009_verify_checkpoints
Revises: 0008_scale

Two new tables, empty: the first verification after the upgrade reads the whole ledger (in pages
from the admin API) and checkpoints it. The statements are frozen here, as the stores created them
when this revision was made. No row changes.
"""

from __future__ import annotations

from alembic import op

revision = "0009_verify_checkpoints"
down_revision = "0008_scale"
branch_labels = None
depends_on = None

SQLITE = (
    """
CREATE TABLE IF NOT EXISTS verify_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, mode TEXT NOT NULL, through_seq INTEGER NOT NULL,
    usage_ms INTEGER NOT NULL, usage_id TEXT NOT NULL, entries INTEGER NOT NULL, usage_records INTEGER NOT NULL
)
    """,
    """
CREATE TABLE IF NOT EXISTS verify_heads (
    account_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL, balance_units INTEGER NOT NULL
)
    """,
)

POSTGRES = (
    """
CREATE TABLE IF NOT EXISTS verify_checkpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at_ms BIGINT NOT NULL, mode TEXT NOT NULL,
    through_seq BIGINT NOT NULL, usage_ms BIGINT NOT NULL, usage_id TEXT NOT NULL, entries BIGINT NOT NULL,
    usage_records BIGINT NOT NULL
)
    """,
    """
CREATE TABLE IF NOT EXISTS verify_heads (
    account_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, balance_units BIGINT NOT NULL
)
    """,
)


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS verify_heads")
    op.execute("DROP TABLE IF EXISTS verify_checkpoints")

"""Open reservations carry a stream's usage so far (interim usage, as in online charging).

Revision ID: 0004_interim_usage
Revises: 0003_accounting_units

`reservations.interim` (JSON, NULL until reported) holds the tokens a long stream had
used when its reservation was last written, with what is needed to record and charge
the request if the process serving it dies. Existing rows keep NULL: they are charged
from their usage record, or released, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_interim_usage"
down_revision = "0003_accounting_units"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("reservations"):
        return  # no charging tables yet: the store creates them with the column
    if "interim" not in {c["name"] for c in inspector.get_columns("reservations")}:
        op.execute("ALTER TABLE reservations ADD COLUMN interim TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE reservations DROP COLUMN interim")

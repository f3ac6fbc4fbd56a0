"""Amounts in accounting units: millionths of the major unit instead of the minor unit.

Revision ID: 0003_accounting_units
Revises: 0002_reservation_owners

Every stored amount is multiplied by 10^(6 - the currency's minor digits) (10,000 for the
fen and the cent, 1,000,000 for the yen) and its column renamed from `*_minor` to
`*_units`: account balances and limits, ledger entries, open reservations, and the
spent/limit figures of money budgets' alerts. Balances, invoices and reservations mean
exactly what they meant before.

Ledger hashes are not recomputed (that would launder any tampering): each entry gains
`hashed_digits`, the decimals its amount was hashed in (the currency's minor digits for
the entries converted here, 6 for every later one), and verification divides the amount
back by 10^(6 - hashed_digits), exactly, before hashing. So the chain written before the
change still verifies after it, and an amount edited since still breaks it.

A database whose tables already have the new columns (made by a newer release's stores)
is left as it is.
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0003_accounting_units"
down_revision = "0002_reservation_owners"
branch_labels = None
depends_on = None

# frozen here: the minor digits of each currency when amounts were kept in minor units (default 2)
_DIGITS = {"JPY": 0}


def _digits_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{c}' THEN {d}" for c, d in _DIGITS.items())
    return f"(CASE {column} {cases} ELSE 2 END)"


def _step_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{c}' THEN {10 ** (6 - d)}" for c, d in _DIGITS.items())
    return f"(CASE {column} {cases} ELSE 10000 END)"


def _columns(bind: sa.engine.Connection, table: str) -> set[str]:
    inspector = sa.inspect(bind)
    if not inspector.has_table(table):
        return set()
    return {c["name"] for c in inspector.get_columns(table)}


def _account_currency(default: str) -> str:
    return f"coalesce((SELECT a.currency FROM accounts a WHERE a.id = account_id), '{default}')"


def upgrade() -> None:
    bind = op.get_bind()
    if "balance_minor" not in _columns(bind, "accounts"):
        return  # made by a release that keeps accounting units already (or no charging tables yet)
    config: dict[str, str] = {}
    if _columns(bind, "charging_config"):
        config = dict(bind.execute(sa.text("SELECT key, doc FROM charging_config")).fetchall())
    currency = str(orjson.loads(config.get("setting:tax_rate", "{}")).get("currency", "CNY"))
    op.execute(f"UPDATE accounts SET limit_minor = limit_minor * {_step_sql('currency')}, "
               f"balance_minor = balance_minor * {_step_sql('currency')}")  # fmt: skip
    op.execute("ALTER TABLE accounts RENAME COLUMN limit_minor TO limit_units")
    op.execute("ALTER TABLE accounts RENAME COLUMN balance_minor TO balance_units")

    owner = _account_currency(currency)
    if "amount_minor" in _columns(bind, "ledger_entries"):
        op.execute("ALTER TABLE ledger_entries ADD COLUMN hashed_digits INTEGER NOT NULL DEFAULT 6")
        op.execute(f"UPDATE ledger_entries SET amount_minor = amount_minor * {_step_sql(owner)}, "
                   f"hashed_digits = {_digits_sql(owner)}")  # fmt: skip
        op.execute("ALTER TABLE ledger_entries RENAME COLUMN amount_minor TO amount_units")
    if "amount_minor" in _columns(bind, "reservations"):
        op.execute(f"UPDATE reservations SET amount_minor = amount_minor * {_step_sql(owner)}")
        op.execute("ALTER TABLE reservations RENAME COLUMN amount_minor TO amount_units")

    step = 10 ** (6 - _DIGITS.get(currency, 2))
    money_budgets = [k.split(":", 1)[1] for k, doc in config.items()
                     if k.startswith("budget:") and orjson.loads(doc).get("amount") is not None]  # fmt: skip
    for budget in money_budgets if _columns(bind, "budget_alerts") else []:
        bind.execute(
            sa.text(f"UPDATE budget_alerts SET spent = spent * {step}, limit_value = limit_value * {step} "
                    "WHERE budget_id = :budget"),
            {"budget": budget},
        )  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("amounts are not converted back: restore a backup instead")

"""Plans (subscriptions and their monthly allowances) and recharge vouchers.

Revision ID: 0006_plans_vouchers
Revises: 0005_usage_details

New tables only; nothing existing changes. `plan_subscriptions` and `plan_allowances` are
kept from the ledger's plan entries (as `package_grants` is from package grants), the
voucher tables hold each batch, each code as a keyed hash (never the code) and every
refused redemption attempt.
"""

from __future__ import annotations

from alembic import op

revision = "0006_plans_vouchers"
down_revision = "0005_usage_details"
branch_labels = None
depends_on = None

_TABLES = ("plan_subscriptions", "plan_allowances", "voucher_batches", "vouchers", "voucher_attempts")


def _statements(big: str, serial: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS plan_subscriptions (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, key_id TEXT, "
        f"plan_id TEXT NOT NULL, terms TEXT NOT NULL, starts_ms {big} NOT NULL, ends_ms {big})",
        "CREATE TABLE IF NOT EXISTS plan_allowances (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, "
        f"subscription_id TEXT NOT NULL, models TEXT NOT NULL, total {big} NOT NULL, used {big} NOT NULL, "
        f"starts_ms {big} NOT NULL, expires_ms {big} NOT NULL, usable_until_ms {big} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS voucher_batches (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        f"amount_units {big} NOT NULL, package_id TEXT, currency TEXT NOT NULL, expires_ms {big} NOT NULL, "
        f"tenants TEXT NOT NULL, tenant_kinds TEXT NOT NULL, count {big} NOT NULL, note TEXT NOT NULL, "
        f"created_by TEXT NOT NULL, created_ms {big} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS vouchers (code_hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
        f"batch_id TEXT NOT NULL, status TEXT NOT NULL, redeemed_by TEXT, redeemed_ms {big}, entry_key TEXT)",
        "CREATE INDEX IF NOT EXISTS vouchers_by_batch ON vouchers (batch_id)",
        f"CREATE TABLE IF NOT EXISTS voucher_attempts (id {serial}, at_ms {big} NOT NULL, tenant_id TEXT NOT NULL, "
        "address TEXT NOT NULL, outcome TEXT NOT NULL, voucher_id TEXT)",
        "CREATE INDEX IF NOT EXISTS voucher_attempts_by_time ON voucher_attempts (at_ms)",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = _statements("BIGINT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    else:
        statements = _statements("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT")
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")

"""The ledger reads both charging stores make, written once with `?` placeholders (numbered for PostgreSQL).

Each read is bounded by what it is for: a budget's period and the accounts that have budgets,
a page of tenants on the dashboard, one account's invoice period. None reads the whole ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tokenops.charging.budgets import Spend

SPENDS = "SELECT amount_units, created_ms, meta FROM ledger_entries WHERE kind = 'charge' AND created_ms >= ?"
RECENT_SPEND = (
    "SELECT account_id, sum(CASE WHEN created_ms >= ? THEN -amount_units ELSE 0 END), sum(-amount_units), "
    "sum(CASE WHEN created_ms >= ? THEN -amount_units ELSE 0 END), min(CASE WHEN created_ms >= ? THEN created_ms END) "
    "FROM ledger_entries WHERE kind = 'charge' AND created_ms >= ?"
)
PACKAGE_DRAWS = (
    "SELECT account_id, meta FROM ledger_entries "
    "WHERE kind = 'charge' AND created_ms >= ? AND meta LIKE '%\"packages\"%'"
)
RECENT_TOPUPS = (  # top-ups an operator or a voucher made (the opening balance seeded from the catalog is not one)
    "SELECT account_id, amount_units, created_ms FROM ledger_entries "
    "WHERE kind = 'topup' AND created_ms >= ? AND idem_key NOT LIKE 'seed:%'"
)
CHARGED_SINCE = "SELECT coalesce(sum(-amount_units), 0) FROM ledger_entries WHERE kind = 'charge' AND created_ms >= ?"
BILLED_BEFORE = (  # what an account's invoices add up: charges, and plans' fees and credits
    "SELECT coalesce(sum(-amount_units), 0) FROM ledger_entries WHERE account_id = ? "
    "AND kind IN ('charge', 'plan_fee', 'plan_credit') AND created_ms < ?"
)
ALERTS = "SELECT budget_id, subject, period, threshold, spent, limit_value, at_ms FROM budget_alerts"
LEDGER_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ledger_by_account_time ON ledger_entries (account_id, created_ms)",
    "CREATE INDEX IF NOT EXISTS ledger_by_kind_time ON ledger_entries (kind, created_ms)",
)


def among(column: str, values: Sequence[str] | None) -> str:
    """` AND column IN (?, …)` for the values given, nothing for None (every value)."""
    if values is None:
        return ""
    return f" AND {column} IN ({', '.join('?' for _ in values)})" if values else " AND 1 = 0"


@dataclass(slots=True)
class RecentSpend:
    """An account's charges today and this month (UTC), and its burn over the recent window."""

    today: int = 0
    month: int = 0
    burn_money: int = 0  # charged in the burn window
    burn_tokens: int = 0  # package tokens drawn in the burn window
    burn_since_ms: int = 0  # first charge in the burn window
    topups_today: int = 0  # top-ups credited today
    last_topup: int = 0  # the latest top-up this month, and when
    last_topup_ms: int = 0


def spends_of(rows: Iterable[tuple[Any, ...]]) -> list[Spend]:
    out = []
    for amount, created, meta in rows:
        m = orjson.loads(meta)
        out.append(Spend(m["tenant"], m["key_id"], m.get("session_id"), created, -amount, sum(m["tokens"])))
    return out


def recent_of(
    sums: Iterable[tuple[Any, ...]], draws: Iterable[tuple[Any, ...]], topups: Iterable[tuple[Any, ...]], day_ms: int
) -> dict[str, RecentSpend]:
    out: dict[str, RecentSpend] = {}
    for account, today, this_month, burned, since in sums:
        out[account] = RecentSpend(int(today or 0), int(this_month or 0), int(burned or 0), 0, int(since or 0))
    for account, meta in draws:
        drawn = sum(orjson.loads(meta).get("packages", {}).values())
        out.setdefault(account, RecentSpend()).burn_tokens += drawn
    for account, amount, at_ms in topups:
        found = out.setdefault(account, RecentSpend())
        found.topups_today += at_ms >= day_ms
        if at_ms >= found.last_topup_ms:
            found.last_topup, found.last_topup_ms = int(amount), int(at_ms)
    return out

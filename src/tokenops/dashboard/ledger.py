"""What the dashboard reads from the ledger: spend today and this month, recent burn rates, the latest top-up,
budget alerts."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokenops.store import SQLiteStore, Store

DAY_MS = 86_400_000
BURN_WINDOW_MS = DAY_MS


@dataclass(slots=True)
class Spend:
    today: int = 0
    month: int = 0
    burn_money: int = 0  # charged in the burn window
    burn_tokens: int = 0  # package tokens drawn in the burn window
    burn_since_ms: int = 0  # first charge in the burn window
    topups_today: int = 0  # top-ups credited today (the opening balance is not one)
    last_topup: int = 0
    last_topup_ms: int = 0


def period_starts(now_ms: int) -> tuple[int, int]:
    moment = datetime.fromtimestamp(now_ms / 1000, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp() * 1000), int(day.replace(day=1).timestamp() * 1000)


def _spend(db: sqlite3.Connection, now_ms: int) -> dict[str, Spend]:
    day, month = period_starts(now_ms)
    burn = now_ms - BURN_WINDOW_MS
    out: dict[str, Spend] = {}
    sql = (
        "SELECT account_id, sum(CASE WHEN created_ms >= ? THEN -amount_units ELSE 0 END), sum(-amount_units), "
        "sum(CASE WHEN created_ms >= ? THEN -amount_units ELSE 0 END), "
        "min(CASE WHEN created_ms >= ? THEN created_ms END) "
        "FROM ledger_entries WHERE kind = 'charge' AND created_ms >= ? GROUP BY account_id"
    )
    for account, today, this_month, burned, since in db.execute(sql, (day, burn, burn, min(month, burn))):
        out[account] = Spend(today or 0, this_month or 0, burned or 0, 0, since or 0)
    drawn = (
        "SELECT e.account_id, sum(j.value) FROM ledger_entries e, json_each(e.meta, '$.packages') j "
        "WHERE e.kind = 'charge' AND e.created_ms >= ? GROUP BY e.account_id"
    )
    for account, tokens in db.execute(drawn, (burn,)):
        out.setdefault(account, Spend()).burn_tokens = int(tokens or 0)
    topups = (
        "SELECT account_id, amount_units, created_ms, (SELECT count(*) FROM ledger_entries t WHERE t.kind = 'topup' "
        "AND t.account_id = e.account_id AND t.created_ms >= ? AND t.idem_key NOT LIKE 'seed:%') "
        "FROM ledger_entries e WHERE seq IN (SELECT max(seq) FROM ledger_entries WHERE kind = 'topup' "
        "AND idem_key NOT LIKE 'seed:%' GROUP BY account_id)"
    )
    for account, amount, at_ms, today in db.execute(topups, (day,)):
        found = out.setdefault(account, Spend())
        found.last_topup, found.last_topup_ms, found.topups_today = amount, at_ms, today
    return out


async def spend_by_account(store: Store) -> dict[str, Spend]:
    if not isinstance(store, SQLiteStore):
        return {}
    now = int(time.time() * 1000)
    return await store.run(lambda db: _spend(db, now))


async def budget_alerts(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    if not isinstance(store, SQLiteStore):
        return []
    names = ("budget_id", "subject", "period", "threshold", "spent", "limit", "at_ms")
    sql = "SELECT budget_id, subject, period, threshold, spent, limit_value, at_ms FROM budget_alerts"
    rows = await store.run(lambda db: db.execute(sql + " ORDER BY at_ms DESC LIMIT ?", (limit,)).fetchall())
    return [dict(zip(names, r, strict=True)) for r in rows]


def runs_out_days(left: int, used: int, since_ms: int, now_ms: int) -> float | None:
    """Days until `left` is gone at the pace `used` was consumed since `since_ms` (None: no pace yet)."""
    if used <= 0 or since_ms <= 0:
        return None
    elapsed = max(now_ms - since_ms, 60_000)  # one minute at least, so a first burst does not read as doom
    per_day = used * DAY_MS / elapsed
    return round(max(left, 0) / per_day, 2)

"""What the dashboard reads from the ledger: spend today and this month, recent burn rates, the latest top-up,
budget alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from tokenops.charging.queries import RecentSpend
from tokenops.charging.store import ChargingStore

DAY_MS = 86_400_000
BURN_WINDOW_MS = DAY_MS


def period_starts(now_ms: int) -> tuple[int, int]:
    moment = datetime.fromtimestamp(now_ms / 1000, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp() * 1000), int(day.replace(day=1).timestamp() * 1000)


async def spend_by_account(store: ChargingStore, accounts: Sequence[str], now_ms: int) -> dict[str, RecentSpend]:
    """Spend today, this month and over the burn window, of these accounts only (a page of the tenant table)."""
    if not accounts:
        return {}
    day, month = period_starts(now_ms)
    return await store.recent_spend(accounts, day, month, now_ms - BURN_WINDOW_MS)


async def budget_alerts(store: ChargingStore, limit: int = 100) -> list[dict[str, Any]]:
    return [asdict(a) for a in await store.alerts(limit)]


def runs_out_days(left: int, used: int, since_ms: int, now_ms: int) -> float | None:
    """Days until `left` is gone at the pace `used` was consumed since `since_ms` (None: no pace yet)."""
    if used <= 0 or since_ms <= 0:
        return None
    elapsed = max(now_ms - since_ms, 60_000)  # one minute at least, so a first burst does not read as doom
    per_day = used * DAY_MS / elapsed
    return round(max(left, 0) / per_day, 2)

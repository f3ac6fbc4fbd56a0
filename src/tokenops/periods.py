"""Billing and reporting periods: calendar months in UTC, named like `2026-11`."""

from __future__ import annotations

from datetime import UTC, datetime

from tokenops.errors import ConfigError


def month_bounds(period: str) -> tuple[int, int]:
    """[start, end) of a month in epoch milliseconds, UTC."""
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"period: expected a month like 2026-11, got {period!r}") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def month_of(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m")

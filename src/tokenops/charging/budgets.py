"""Budgets on a tenant, a key or each session of a tenant: money or tokens per day, month or ever.

A hard budget takes part in credit control (reserve against it, so it never overruns);
a soft one only alerts. Alerts fire once per period when 80% and 100% are crossed.

Scaled out, a hard budget's spent amount per period is kept in Redis (`BudgetPool`) and
each replica may only reserve within the share of it that it leased (`leased`), as with
credit leases; embedded, every counter is counted here alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tokenops.charging.catalog import BudgetSpec

log = logging.getLogger("tokenops.budgets")
THRESHOLDS = (80, 100)


@dataclass(slots=True)
class BudgetCounter:
    spec: BudgetSpec
    subject: str
    period: str
    spent: int = 0  # accounting units or tokens
    reserved: int = 0
    alerted: int = 0
    leased: int | None = None  # scaled out (hard budgets): this replica's share of the period's headroom

    @property
    def limit(self) -> int:
        return self.spec.amount if self.spec.amount is not None else self.spec.tokens or 0

    @property
    def counts_tokens(self) -> bool:
        return self.spec.tokens is not None

    @property
    def headroom(self) -> int:
        room = self.limit - self.spent if self.leased is None else self.leased
        return room - self.reserved


class BudgetPool(Protocol):
    """Where replicas share hard budgets (Redis); the counters' `leased` is what each may reserve."""

    def spent(self, counter: BudgetCounter, charged: int) -> None:
        """A charge settled here: the lease shrinks by it (reported to the pool with the next call)."""

    async def top_up(self, counter: BudgetCounter, need: int) -> bool:
        """Try to lease enough that `need` more fits in this counter here; whether it fits now."""

    def refused_for_outage(self, counter: BudgetCounter) -> bool:
        """Whether the last top-up of this counter failed because Redis is unreachable."""

    async def refresh(self, counters: Iterable[BudgetCounter]) -> None:
        """Renew the leases held, report what was charged, give back what is not needed."""

    async def close(self, counters: Iterable[BudgetCounter]) -> None:
        """Give every lease back (shutdown)."""


@dataclass(frozen=True, slots=True)
class Alert:
    budget_id: str
    subject: str
    period: str
    threshold: int
    spent: int
    limit: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class Spend:
    """One past charge, as budgets see it."""

    tenant: str
    key_id: str
    session_id: str | None
    created_ms: int
    amount: int
    tokens: int


def period_key(period: str, at_ms: int) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "month":
        return moment.strftime("%Y-%m")
    return "all"


def period_start_ms(period: str, at_ms: int) -> int:
    """When the period holding `at_ms` began (epoch ms); 0 for a budget with no period."""
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        return 0
    return int(start.timestamp() * 1000)


def period_key_start_ms(period: str, key: str) -> int:
    """When the period named `key` began (epoch ms); 0 for a budget with no period."""
    if period == "day":
        return int(datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    if period == "month":
        return int(datetime.strptime(key, "%Y-%m").replace(tzinfo=UTC).timestamp() * 1000)
    return 0


def spend_window(specs: Iterable[BudgetSpec], now_ms: int) -> tuple[int, list[str] | None] | None:
    """What of the ledger these budgets' current periods need: charges since the earliest period start, of the
    tenants they concern (every tenant's, within the period, when a key's budget is among them); None: nothing."""
    specs = list(specs)
    if not specs:
        return None
    since = min(period_start_ms(s.period, now_ms) for s in specs)
    if any(s.scope == "key" for s in specs):
        return since, None
    return since, sorted({s.target for s in specs})


def period_end_ms(period: str, key: str) -> int:
    """When the period named `key` ends (epoch ms); 0 for a budget with no period."""
    if period == "day":
        end = datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    elif period == "month":
        year, month = (int(part) for part in key.split("-"))
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    else:
        return 0
    return int(end.timestamp() * 1000)


def subject_of(spec: BudgetSpec, tenant: str, key_id: str, session_id: str | None) -> str | None:
    """What a budget counts a request against (a tenant, a key or a session), or None if it does not apply."""
    if spec.scope == "tenant":
        return tenant if spec.target == tenant else None
    if spec.scope == "key":
        return key_id if spec.target == key_id else None
    return session_id if spec.target == tenant and session_id else None


class Budgets:
    def __init__(self, specs: tuple[BudgetSpec, ...]) -> None:
        self.specs = specs
        self.counters: dict[tuple[str, str, str], BudgetCounter] = {}
        self.alerts: list[Alert] = []
        self.pool: BudgetPool | None = None  # scaled out: hard budgets are shared through it

    def share(self, counter: BudgetCounter) -> None:
        """Scaled out, a hard budget's counter reserves only within what it leased from the pool."""
        if self.pool is not None and counter.spec.mode == "hard" and counter.leased is None:
            counter.leased = 0

    def applicable(self, tenant: str, key_id: str, session_id: str | None, at_ms: int) -> list[BudgetCounter]:
        found = []
        for spec in self.specs:
            subject = subject_of(spec, tenant, key_id, session_id)
            if subject is None:
                continue
            period = period_key(spec.period, at_ms)
            slot = (spec.id, subject, period)
            counter = self.counters.get(slot)
            if counter is None:
                counter = self.counters[slot] = BudgetCounter(spec, subject, period)
                self.share(counter)
            found.append(counter)
        return found

    def load(self, spends: list[Spend], now_ms: int) -> None:
        """Count what was already spent in each budget's current period."""
        for s in spends:
            for counter in self.applicable(s.tenant, s.key_id, s.session_id, s.created_ms):
                if counter.period == period_key(counter.spec.period, now_ms):
                    counter.spent += s.tokens if counter.counts_tokens else s.amount
                    counter.alerted = max([0, *(t for t in THRESHOLDS if counter.spent * 100 >= t * counter.limit)])

    def spend(self, counter: BudgetCounter, held: int, amount: int, tokens: int, at_ms: int) -> None:
        counter.reserved -= held
        charged = tokens if counter.counts_tokens else amount
        counter.spent += charged
        if counter.leased is not None:
            counter.leased -= charged
            if self.pool is not None:
                self.pool.spent(counter, charged)
        for threshold in THRESHOLDS:
            if counter.alerted < threshold and counter.spent * 100 >= threshold * counter.limit:
                counter.alerted = threshold
                alert = Alert(
                    counter.spec.id, counter.subject, counter.period, threshold, counter.spent, counter.limit, at_ms
                )
                self.alerts.append(alert)
                log.warning("budget %s of %s reached %d%% (%d of %d)", alert.budget_id, alert.subject, threshold,
                            alert.spent, alert.limit)  # fmt: skip

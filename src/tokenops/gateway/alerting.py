"""What the gateway raises alerts about: a low balance or a short runway, a package allowance at 80% and 100%,
budget thresholds, suspected extraction, a residency violation, a soft end-user quota crossed.

Each alert is keyed by its crossing, so it fires once however many replicas notice it: a balance
crossing is numbered (a mark in the store flips between low and ok, atomically), a package's by its
grant and threshold, a budget's by its period, an extraction's by its security event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tokenops.alerts import Alerts
from tokenops.catalog import Catalog
from tokenops.charging.budgets import Alert as BudgetAlert
from tokenops.charging.ledger import Entry
from tokenops.charging.money import format_amount, format_exact, parse_amount
from tokenops.charging.queries import RecentSpend
from tokenops.charging.service import ChargingService
from tokenops.compliance import build_report
from tokenops.errors import ConfigError
from tokenops.quotas import Crossing
from tokenops.store import UsageRecord
from tokenops.store.admin import AdminStore

log = logging.getLogger("tokenops.alerts")
HOUR_MS = 3_600_000
DAY_MS = 86_400_000  # the runway's burn is what the ledger charged over the last day
BURN_BATCH = 500  # accounts per ledger read, so thousands of runway rules are not one huge query
FOREVER_MS = 2**62
CHECK_MS = 5_000  # balances and packages are looked at this often (`AlertWatch.check_ms`)
RUNWAY_MS = 60_000  # and runways (a day's charges read from the ledger) this often (`AlertWatch.runway_ms`)
EVENTS_MS = 2_000  # security events


class AlertWatch:
    def __init__(
        self, alerts: Alerts, charging: ChargingService, events: AdminStore | None, catalog: Callable[[], Catalog]
    ) -> None:
        self.alerts = alerts
        self.charging = charging
        self.events = events
        self.catalog = catalog
        self._marks: dict[str, str] = {}  # crossing marks as last seen here
        self._sent: set[str] = set()  # package alerts known to exist
        self._cursor: int | None = None  # the last security event looked at
        self._next_check = 0
        self.check_ms = CHECK_MS
        self.runway_ms = RUNWAY_MS
        self._next_runway = 0
        self._next_events = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    async def tick(self) -> None:
        """Called every second by the gateway's upkeep."""
        now = self.alerts.now_ms()
        if now >= self._next_check:
            self._next_check = now + self.check_ms
            await self._balances(now)
            await self._packages()
        if now >= self._next_events and self.events is not None:
            self._next_events = now + EVENTS_MS
            await self._extraction(now)

    def observe(self, record: UsageRecord, charge: Entry | None) -> None:
        """The usage sink's observer: any request served outside its residency."""
        if record.deployment_id is not None and self._violates(record):
            self._spawn(self._residency(record))

    async def quota_crossed(self, c: Crossing) -> None:
        used = c.used if c.quota.counts_tokens else format_exact(c.used)
        limit = c.quota.limit if c.quota.counts_tokens else format_exact(c.quota.limit)
        payload = {"end_user": c.end_user, "quota": c.quota.name, "period": c.period, "threshold": c.threshold,
                   "used": used, "limit": limit, "unit": "tokens" if c.quota.counts_tokens else "money"}  # fmt: skip
        key = f"quota:{c.tenant}:{c.end_user}:{c.quota.name}:{c.period}:{c.threshold}"
        await self.alerts.emit("end_user_quota", c.tenant, payload, key)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def budgets(self, raised: list[BudgetAlert]) -> None:
        """Send the budget and plan-allowance alerts the charging upkeep just stored (each once: keyed by its
        crossing)."""
        for a in raised:
            if a.budget_id.startswith("plan:"):  # plan:<subscription>/<model group>, for the tenant `subject`
                subscription, group = a.budget_id[len("plan:"):].rsplit("/", 1)
                payload = {"subscription": subscription, "model_group": int(group), "period": a.period,
                           "threshold": a.threshold, "used_tokens": a.spent, "total_tokens": a.limit}  # fmt: skip
                key = f"plan:{a.budget_id}:{a.period}:{a.threshold}"
                await self.alerts.emit("plan_allowance", a.subject, payload, key)
                continue
            spec = next((s for s in self.charging.credit.budgets.specs if s.id == a.budget_id), None)
            tenant = spec.target if spec is not None and spec.scope != "key" else self._key_tenant(a.subject)
            money = spec is not None and spec.amount is not None
            payload = {"budget": a.budget_id, "subject": a.subject, "period": a.period, "threshold": a.threshold,
                       "spent": format_exact(a.spent) if money else a.spent,
                       "limit": format_exact(a.limit) if money else a.limit,
                       "unit": "money" if money else "tokens"}  # fmt: skip
            key = f"budget:{a.budget_id}:{a.subject}:{a.period}:{a.threshold}"
            await self.alerts.emit("budget", tenant, payload, key)

    def _key_tenant(self, key_id: str) -> str | None:
        return next((k.tenant_id for k in self.catalog().keys.values() if k.id == key_id), None)

    async def _balances(self, now: int) -> None:
        watched = []
        for account in list(self.charging.credit.accounts.values()):
            rule = self.alerts.rules.for_tenant(account.id)
            if rule.below is not None or rule.runway_days is not None:
                watched.append((account, rule))
        burns = None
        if now >= self._next_runway:
            self._next_runway = now + self.runway_ms
            burns = await self._burns([a.id for a, rule in watched if rule.runway_days is not None], now)
        for account, rule in watched:
            left = account.balance + account.limit
            if rule.below is not None:
                try:
                    below = parse_amount(rule.below, account.currency, "below")
                except ConfigError:
                    below = None
                if below is not None:
                    detail: dict[str, Any] = {"available": format_amount(left, account.currency), "below": rule.below,
                              "currency": account.currency}  # fmt: skip
                    await self._crossing("low_balance", account.id, left < below, detail, now)
            if rule.runway_days is not None and burns is not None:
                days = runway_days(left, burns.get(account.id), now)
                detail = {"available": format_amount(left, account.currency), "currency": account.currency,
                          "runway_days": None if days is None else round(days, 2), "below_days": rule.runway_days}
                await self._crossing("runway", account.id, days is not None and days < rule.runway_days, detail, now)

    async def _burns(self, accounts: Sequence[str], now: int) -> dict[str, RecentSpend] | None:
        """What the ledger charged these accounts over the last day, whichever replica served them (None: the
        ledger did not answer, and no runway is judged this time rather than read as recovered)."""
        since = now - DAY_MS
        found: dict[str, RecentSpend] = {}
        try:
            for i in range(0, len(accounts), BURN_BATCH):
                # today and this month start at the burn window too: only the last day's index range is read
                found.update(await self.charging.store.recent_spend(accounts[i : i + BURN_BATCH], since, since, since))
        except Exception:
            log.exception("runway: the ledger's burn of %d accounts not read", len(accounts))
            return None
        return found

    async def _crossing(self, kind: str, tenant: str, crossed: bool, detail: dict[str, Any], now: int) -> None:
        """Fire once when `crossed` turns true; re-arm when it turns false (a mark in the store says which)."""
        key = f"{kind}:{tenant}"
        raw = self._marks.get(key)
        if raw is None:  # first look here: what the store says ('' when it never crossed)
            raw = self._marks[key] = await self.alerts.store.get_mark(key, now) or ""
        state, n = (raw or "ok:0").split(":")
        if crossed == (state == "low"):
            return
        value = f"{'low' if crossed else 'ok'}:{int(n) + (1 if crossed else 0)}"
        if await self.alerts.store.mark(key, raw or None, value, FOREVER_MS, now):
            self._marks[key] = value
            if crossed:
                await self.alerts.emit(kind, tenant, detail, f"{key}:{value}")
        else:
            self._marks.pop(key, None)  # another replica moved it first: read it again next time

    async def _packages(self) -> None:
        for account in list(self.charging.credit.accounts.values()):
            for grant in list(account.grants.values()):
                for threshold in (80, 100):
                    key = f"package:{grant.id}:{threshold}"
                    if key in self._sent or grant.total <= 0 or grant.used * 100 < threshold * grant.total:
                        continue
                    payload = {"package": grant.package_id, "grant": grant.id, "threshold": threshold,
                               "used_tokens": grant.used, "total_tokens": grant.total}  # fmt: skip
                    await self.alerts.emit("package_allowance", account.id, payload, key)
                    self._sent.add(key)

    async def _extraction(self, now: int) -> None:
        assert self.events is not None
        found = await self.events.events(None, 500)
        if self._cursor is None:
            stored = await self.alerts.store.get_mark("cursor:extraction", now)
            self._cursor = int(stored) if stored else max((e.id for e in found), default=0)
        fresh = sorted((e for e in found if e.id > self._cursor), key=lambda e: e.id)
        for e in fresh:
            if e.action != "record":
                payload = {"event": e.id, "key": e.key_id, "detector": e.detector, "score": e.score,
                           "action": e.action, "evidence": e.evidence}  # fmt: skip
                await self.alerts.emit("extraction", e.tenant_id, payload, f"extraction:{e.id}")
        if fresh:
            self._cursor = fresh[-1].id
            await self.alerts.store.mark("cursor:extraction", None, str(self._cursor), FOREVER_MS, FOREVER_MS)

    def _violates(self, record: UsageRecord) -> bool:
        catalog = self.catalog()
        tenant = catalog.tenants.get(record.tenant_id)
        dep = catalog.deployments.get(record.deployment_id or "")
        if tenant is None:
            return False
        if record.region not in tenant.residency or dep is None:
            return True
        return (dep.pool == "dedicated") != (tenant.isolation == "dedicated") or (
            dep.pool == "dedicated" and dep.tenant != tenant.id
        )

    async def _residency(self, record: UsageRecord) -> None:
        report = build_report(self.catalog(), record.tenant_id, "live", [record])
        payload = {"request_id": record.request_id, "region": record.region, "deployment": record.deployment_id,
                   "residency": report.residency, "out_of_residency": bool(report.out_of_residency),
                   "cross_pool": [c["reason"] for c in report.cross_pool]}  # fmt: skip
        try:
            await self.alerts.emit("residency_violation", record.tenant_id, payload, f"residency:{record.request_id}")
        except Exception:
            log.exception("residency violation of %s not raised as an alert", record.request_id)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def runway_days(left: int, burn: RecentSpend | None, now: int) -> float | None:
    """Days `left` lasts at the pace the ledger charged it over the last day (an hour at least, so a first burst
    does not read as doom; None: nothing charged)."""
    if burn is None or burn.burn_money <= 0:
        return None
    elapsed = max(now - burn.burn_since_ms, HOUR_MS)
    return max(left, 0) / (burn.burn_money * DAY_MS / elapsed)

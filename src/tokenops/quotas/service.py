"""End-user quotas enforced: each request of a consumer tenant's end user takes its share of that user's
period counters before it is forwarded, and the actual tokens and money replace it when it settles.

Counters live in the counter store (in process, or Redis shared by every replica), one integer per
end user, quota and period, dropped when the period is over: memory follows the end users active in
the period, not all end users ever seen. A token quota grants the output the user has left (the
output cap forwarded is lowered to it), so a hard token quota is not overrun by a long answer; a
money quota grants up to the request's worst-case cost (its reservation), at least one unit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tokenops.errors import BadRequest, ConfigError, InsufficientFunds, RateLimited, TokenopsError
from tokenops.limits import Counters
from tokenops.limits.resilient import CURRENT_TENANT
from tokenops.quotas.config import Quota, TenantQuotas, merged, parse_quotas, parse_tenant_quotas
from tokenops.store.admin import AdminStore

log = logging.getLogger("tokenops.quotas")
THRESHOLDS = (80, 100)  # soft quotas alert when these percentages are crossed
UNLIMITED = 2**62
POLICY_KIND = "end_user_quotas"  # admin documents: a tenant's defaults (id: the tenant)
OVERRIDE_KIND = "end_user_quota"  # one end user's override (id: tenant + US + end user)
STALE_S = 900.0


def override_id(tenant: str, user: str) -> str:
    return f"{tenant}\x1f{user}"


def bucket_of(tenant: str, user: str, quota: str, period: str) -> str:
    """The counter of one end user's quota in one period."""
    return f"{tenant}\x1f{user}\x1f{quota}\x1f{period}"


def period_bounds(period: str, at_ms: int) -> tuple[str, int]:
    """The UTC period `at_ms` falls in: its label and when it ends (epoch seconds)."""
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), int(start.timestamp()) + 86_400
    year, month = moment.year + moment.month // 12, moment.month % 12 + 1
    return moment.strftime("%Y-%m"), int(datetime(year, month, 1, tzinfo=UTC).timestamp())


@dataclass(frozen=True, slots=True)
class Crossing:
    """A soft quota's use passed a threshold (once per end user, quota, period and threshold)."""

    tenant: str
    end_user: str
    quota: Quota
    period: str
    threshold: int
    used: int


@dataclass(slots=True)
class _Taken:
    quota: Quota
    bucket: str
    until_s: int
    period: str
    amount: int


@dataclass(slots=True)
class QuotaTicket:
    tenant: str
    end_user: str
    taken: list[_Taken] = field(default_factory=list)
    output_cap: int | None = None  # the output the user's token quotas leave this request (None: no limit)
    since: float = field(default_factory=time.monotonic)


def _refusal(quota: Quota, user: str, period: str, until_s: int, now_ms: int, currency: str) -> TokenopsError:
    limit = f"{quota.limit} tokens" if quota.counts_tokens else f"{quota.limit / 1_000_000:.2f} {currency}"
    renews = datetime.fromtimestamp(until_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = (f"end user {user!r} has reached its {'daily' if quota.period == 'day' else 'monthly'} quota "
               f"{quota.name!r} ({limit} for {period}); it renews at {renews}")  # fmt: skip
    if not quota.counts_tokens:
        return InsufficientFunds(message, code=quota.code)
    wait = max(1, until_s - now_ms // 1000)
    return RateLimited(message, code=quota.code, headers={"retry-after": str(wait)})


class EndUserQuotas:
    def __init__(self, counters: Counters, store: AdminStore | None = None) -> None:
        self.counters = counters
        self.store = store
        self.policies: dict[str, TenantQuotas] = {}
        self.overrides: dict[tuple[str, str], list[Quota | str]] = {}
        self.on_crossing: Callable[[Crossing], Awaitable[None]] | None = None  # soft quotas' alerts
        self._pending: dict[str, QuotaTicket] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def seed(self, raw: dict[str, Any] | None) -> None:
        """Seed each tenant's defaults from the catalog (never overwriting what the admin API set)."""
        if self.store is None or raw is None:
            return
        policies = raw.get("policies") or {}
        section = policies.get("end_user_quotas") if isinstance(policies, dict) else None
        if section is None:
            return
        if not isinstance(section, dict):
            raise ConfigError("catalog.policies.end_user_quotas: must be a mapping of tenant to its quotas")
        for tenant, doc in section.items():
            parse_tenant_quotas(doc, f"catalog.policies.end_user_quotas.{tenant}")
        await self.store.seed_admin([], {(POLICY_KIND, str(t)): dict(d) for t, d in section.items()})

    async def reload(self) -> None:
        if self.store is None:
            return
        policies = {}
        for tenant, doc in (await self.store.docs(POLICY_KIND)).items():
            try:
                policies[tenant] = parse_tenant_quotas(doc, f"{POLICY_KIND}.{tenant}")
            except ConfigError as exc:
                log.error("stored end-user quotas of %s are invalid, ignored: %s", tenant, exc)
        overrides = {}
        for doc in (await self.store.docs(OVERRIDE_KIND)).values():
            owner, user, quotas = doc.get("tenant"), doc.get("end_user"), doc.get("quotas")
            if not isinstance(owner, str) or not isinstance(user, str) or quotas is None:
                continue  # cleared
            currency = policies.get(owner, TenantQuotas()).currency
            try:
                overrides[(owner, user)] = parse_quotas(quotas, f"{OVERRIDE_KIND}.{owner}.{user}", currency, True)
            except ConfigError as exc:
                log.error("stored quota override of %s/%s is invalid, ignored: %s", owner, user, exc)
        self.policies, self.overrides = policies, overrides

    def quotas_of(self, tenant: str, user: str) -> tuple[Quota, ...]:
        policy = self.policies.get(tenant)
        defaults = policy.quotas if policy is not None else ()
        return merged(defaults, self.overrides.get((tenant, user)))

    async def admit(
        self, request_id: str, tenant: str, user: str | None, estimate: int, output: int, money: int, at_ms: int
    ) -> QuotaTicket | None:
        """Take this request's share of its end user's quotas, or raise the refusal naming the quota.

        `estimate`: its estimated input tokens; `output`: the output tokens it asks for (0: none);
        `money`: its worst-case cost (its reservation; 0 where it has none). None: no quota applies.
        """
        policy = self.policies.get(tenant)
        if user is None:
            if policy is not None and policy.require_end_user:
                raise BadRequest("this tenant's requests must name their end user ('user' field or X-End-User)",
                                 code="end_user_required", param="user")  # fmt: skip
            return None
        quotas = self.quotas_of(tenant, user)
        if not quotas:
            return None
        currency = policy.currency if policy is not None else "CNY"
        ticket = QuotaTicket(tenant, user)
        scope = CURRENT_TENANT.set(tenant)  # a counter-store outage follows the tenant's own rule
        try:
            for quota in quotas:
                period, until_s = period_bounds(quota.period, at_ms)
                bucket = bucket_of(tenant, user, quota.name, period)
                if quota.counts_tokens:
                    need, want = estimate + (1 if output else 0), estimate + output
                else:
                    need, want = 1, max(money, 1)
                limit = quota.limit if quota.mode == "hard" else UNLIMITED
                added, total = await self.counters.add_within(bucket, need, want, limit, until_s)
                if not added:
                    raise _refusal(quota, user, period, until_s, at_ms, currency)
                ticket.taken.append(_Taken(quota, bucket, until_s, period, added))
                if quota.counts_tokens and quota.mode == "hard" and output:
                    cap = added - estimate
                    ticket.output_cap = cap if ticket.output_cap is None else min(cap, ticket.output_cap)
                if quota.mode == "soft":
                    await self._crossed(ticket, ticket.taken[-1], total - added, total)
        except BaseException:
            await self._give_back(ticket)
            raise
        finally:
            CURRENT_TENANT.reset(scope)
        self._pending[request_id] = ticket
        if len(self._pending) % 1024 == 0:
            cutoff = time.monotonic() - STALE_S
            for rid in [r for r, t in self._pending.items() if t.since < cutoff]:
                del self._pending[rid]
        return ticket

    async def _give_back(self, ticket: QuotaTicket) -> None:
        for taken in ticket.taken:
            await self.counters.add_within(taken.bucket, -taken.amount, -taken.amount, UNLIMITED, taken.until_s)
        ticket.taken.clear()

    async def _crossed(self, ticket: QuotaTicket, taken: _Taken, before: int, after: int) -> None:
        if self.on_crossing is None:
            return
        limit = taken.quota.limit
        for threshold in THRESHOLDS:
            if before * 100 < threshold * limit <= after * 100:
                crossing = Crossing(ticket.tenant, ticket.end_user, taken.quota, taken.period, threshold, after)
                try:
                    await self.on_crossing(crossing)
                except Exception:
                    log.exception("alert for end-user quota %s of %s not raised", taken.quota.name, ticket.end_user)

    def settled(self, request_id: str, tokens: int, money: int) -> None:
        """The request ended (tokens and money actually charged): correct what it took, in the background."""
        ticket = self._pending.pop(request_id, None)
        if ticket is None:
            return
        task = asyncio.get_running_loop().create_task(self._settle(ticket, tokens, money))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, ticket: QuotaTicket, tokens: int, money: int) -> None:
        CURRENT_TENANT.set(ticket.tenant)  # this task's own context
        try:
            for taken in ticket.taken:
                delta = (tokens if taken.quota.counts_tokens else money) - taken.amount
                if not delta:
                    continue
                _, total = await self.counters.add_within(taken.bucket, delta, delta, UNLIMITED, taken.until_s)
                if taken.quota.mode == "soft":
                    await self._crossed(ticket, taken, total - delta, total)
        except Exception:
            log.exception("end-user quota of %s not corrected", ticket.end_user)

    async def used(self, tenant: str, user: str, at_ms: int) -> list[dict[str, Any]]:
        """Each quota of this end user with what it has used in the current period (admin API)."""
        out = []
        for quota in self.quotas_of(tenant, user):
            period, until_s = period_bounds(quota.period, at_ms)
            bucket = bucket_of(tenant, user, quota.name, period)
            _, total = await self.counters.add_within(bucket, 0, 0, UNLIMITED, until_s)
            out.append({"quota": quota, "period": period, "used": total, "renews_s": until_s})
        return out

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

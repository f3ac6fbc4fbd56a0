"""The dashboard's tables, computed for one scope of tenants from live aggregates, state and the ledger."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from statistics import median
from typing import Any

from tokenops.dashboard.ledger import runs_out_days, spend_by_account
from tokenops.gateway.state import AppState
from tokenops.telemetry.live import Samples, Totals


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _totals_doc(t: Totals) -> dict[str, Any]:
    return {
        "requests": t.requests, "errors": t.errors, "refused": t.refused,
        "error_rate": round(t.errors / t.requests, 4) if t.requests else 0.0,
        "input_tokens": t.input_tokens, "output_tokens": t.output_tokens, "cached_tokens": t.cached_tokens,
        "rated": t.rated, "cost": t.cost, "margin": t.rated - t.cost,
    }  # fmt: skip


SORTS = ("tokens", "requests", "balance", "tenant")


def _per_tenant(state: AppState) -> dict[str, Totals]:
    per: dict[str, Totals] = defaultdict(Totals)
    for (tenant, _), t in state.telemetry.live.totals.items():
        acc = per[tenant]
        for name in Totals.__slots__:
            setattr(acc, name, getattr(acc, name) + getattr(t, name))
    return per


def matching(state: AppState, scope: Collection[str], query: str) -> list[str]:
    """The tenants in scope whose id or name contains `query` (case-insensitive; all of them for '')."""
    if not query:
        return list(scope)
    q = query.casefold()
    found = []
    for tenant in scope:
        info = state.catalog.tenants.get(tenant)
        if q in tenant.casefold() or (info is not None and q in info.name.casefold()):
            found.append(tenant)
    return found


def page_of(state: AppState, tenants: list[str], sort: str, page: int, per_page: int) -> list[str]:
    """One page of the tenants, the busiest (or lowest balance, or by id) first: only it is read from the ledger."""
    if sort == "tenant":
        ordered = sorted(tenants)
    elif sort == "balance":
        accounts = state.charging.credit.accounts
        room = {t: a.balance + a.limit for t, a in accounts.items()}
        ordered = sorted(tenants, key=lambda t: (room.get(t, 2**63), t))
    else:
        per = _per_tenant(state)
        busy = {t: x.requests if sort == "requests" else x.input_tokens + x.output_tokens for t, x in per.items()}
        ordered = sorted(tenants, key=lambda t: (-busy.get(t, 0), t))
    return ordered[(page - 1) * per_page : page * per_page]


def totals(state: AppState, scope: Collection[str]) -> dict[str, Any]:
    """The whole scope's live totals (what the page's rows add up to, for every tenant in scope)."""
    total, wanted = Totals(), set(scope)
    for tenant, t in _per_tenant(state).items():
        if tenant in wanted:
            for name in Totals.__slots__:
                setattr(total, name, getattr(total, name) + getattr(t, name))
    return _totals_doc(total)


async def tenants(state: AppState, page: Collection[str]) -> list[dict[str, Any]]:
    """The tenant table's rows for one page of tenants: live totals, spend from the ledger, balances, burn."""
    now = int(time.time() * 1000)
    per = _per_tenant(state)
    spend = await spend_by_account(state.charging.store, sorted(page), now)
    holds: dict[str, tuple[int, int]] = {}
    for hold in state.charging.credit.holds.values():
        count, money = holds.get(hold.tenant, (0, 0))
        holds[hold.tenant] = (count + 1, money + hold.money)
    rows = []
    for tenant in page:
        info = state.catalog.tenants.get(tenant)
        doc: dict[str, Any] = {"tenant": tenant, "name": info.name if info else tenant,
                               "kind": info.kind if info else "", "sector": info.sector if info else ""}  # fmt: skip
        doc.update(_totals_doc(per.get(tenant) or Totals()))
        account = state.charging.credit.accounts.get(tenant)
        s = spend.get(tenant)
        doc["spend_today"] = s.today if s else 0
        doc["spend_month"] = s.month if s else 0
        doc["open_reservations"], doc["reserved"] = holds.get(tenant, (0, 0))
        doc["last_topup"], doc["last_topup_ms"] = (s.last_topup, s.last_topup_ms) if s else (0, 0)
        doc["topups_today"] = s.topups_today if s else 0
        if account is not None:
            headroom = account.balance + account.limit
            doc.update(currency=account.currency, account_type=account.type, balance=account.balance,
                       limit=account.limit, package_tokens=account.package_tokens())  # fmt: skip
            doc["balance_runs_out_days"] = runs_out_days(headroom, s.burn_money, s.burn_since_ms, now) if s else None
            doc["package_runs_out_days"] = (
                runs_out_days(account.package_tokens(), s.burn_tokens, s.burn_since_ms, now) if s else None
            )
        rows.append(doc)
    return rows


def deployments(state: AppState, scope: Collection[str], operator: bool) -> list[dict[str, Any]]:
    live = state.telemetry.live
    capacity = state.guard.config.capacity
    peaks: dict[str, int] = defaultdict(int)
    for sample in live.busy:
        for dep_id, busy in sample.items():
            peaks[dep_id] = max(peaks[dep_id], busy)
    wanted = scope if isinstance(scope, (set, frozenset)) else set(scope)
    by_dep: dict[str, list[tuple[str, Totals]]] = defaultdict(list)
    for (tenant, dep_id), t in live.deployments.items():  # what traffic there was, not every tenant x deployment
        if tenant in wanted:
            by_dep[dep_id].append((tenant, t))
    rows = []
    for dep in sorted(state.catalog.deployments.values(), key=lambda d: d.id):
        used = by_dep.get(dep.id, [])
        owner = operator or (dep.tenant is not None and dep.tenant in wanted)
        if not used and not owner:
            continue  # a tenant admin sees the deployments its own traffic used, and its dedicated ones
        total = Totals()
        merged = Samples()
        for tenant, t in used:
            for name in Totals.__slots__:
                setattr(total, name, getattr(total, name) + getattr(t, name))
            found = live.samples.get((tenant, dep.id))
            if found is not None:
                merged.latency.extend(found.latency)
                merged.ttft.extend(found.ttft)
        lat, ttft = list(merged.latency), list(merged.ttft)
        doc: dict[str, Any] = {"deployment": dep.id, "model": dep.model, "region": dep.region, "pool": dep.pool,
                               "p50_latency_ms": percentile(lat, 0.5), "p99_latency_ms": percentile(lat, 0.99),
                               "p50_ttft_ms": percentile(ttft, 0.5), "p99_ttft_ms": percentile(ttft, 0.99)}  # fmt: skip
        doc.update(_totals_doc(total))
        if owner:  # occupancy of a shared deployment is everyone's traffic: operators only
            cap = capacity.get(dep.id, dep.capacity)
            busy = state.health.busy(dep.id)
            doc.update(in_flight=busy, peak_in_flight_60s=peaks[dep.id], capacity=cap,
                       utilization=round(peaks[dep.id] / cap, 3) if cap else None,
                       circuit=state.health.state(dep.id))  # fmt: skip
        rows.append(doc)
    return rows


def routing(state: AppState, scope: Collection[str]) -> list[dict[str, Any]]:
    """Requests per (requested → served) model, with each served model's price tier."""
    book = state.charging.credit.book
    version = book.version_at(state.clock.now_ms())
    prices = {m: p.output for m, p in version.models.items()} if version else {}
    chat = [p for m, p in prices.items() if p > 0]
    cut = median(chat) if chat else 0
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for (tenant, requested, served), n in state.telemetry.live.routes.items():
        if tenant in scope:
            counts[(requested, served)] += n
    total = sum(counts.values()) or 1
    rows = []
    for (requested, served), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        price = prices.get(served)
        tier = "unpriced" if price is None else ("expensive" if price >= cut and price > min(chat) else "cheap")
        rows.append({"requested": requested, "served": served, "tier": tier, "requests": n,
                     "share": round(n / total, 4)})  # fmt: skip
    return rows


def residency(state: AppState, scope: Collection[str]) -> list[dict[str, Any]]:
    rows = []
    for (tenant, region), n in sorted(state.telemetry.live.regions.items()):
        if tenant not in scope:
            continue
        info = state.catalog.tenants.get(tenant)
        allowed = info.residency if info else ()
        rows.append({"tenant": tenant, "region": region, "requests": n, "allowed": list(allowed),
                     "violation": bool(allowed) and region not in allowed})  # fmt: skip
    return rows


def budgets(state: AppState, scope: Collection[str]) -> list[dict[str, Any]]:
    key_tenant = {k.id: k.tenant_id for k in state.catalog.keys.values()}
    rows = []
    for counter in state.charging.credit.budgets.counters.values():
        spec = counter.spec
        tenant = key_tenant.get(spec.target, "") if spec.scope == "key" else spec.target
        if tenant not in scope:
            continue
        limit = counter.limit
        rows.append({"budget": spec.id, "tenant": tenant, "scope": spec.scope, "subject": counter.subject,
                     "period": counter.period, "mode": spec.mode,
                     "unit": "tokens" if counter.counts_tokens else "money",
                     "spent": counter.spent, "reserved": counter.reserved, "limit": limit,
                     "used": round(counter.spent / limit, 4) if limit else None})  # fmt: skip
    return rows


def compaction(state: AppState, scope: Collection[str]) -> list[dict[str, Any]]:
    """Per tenant, the requests compacted to fit their model's window since start, and by how much."""
    rows = []
    for tenant in sorted(scope):
        done = state.compaction.done.get(tenant)
        if done is None:
            continue
        rows.append({"tenant": tenant, "requests": done.requests, "tokens_before": done.tokens_before,
                     "tokens_after": done.tokens_after,
                     "kept": round(done.tokens_after / done.tokens_before, 4) if done.tokens_before else None,
                     "last_ms": done.last_ms, "last_transcript": done.last_transcript})  # fmt: skip
    return rows

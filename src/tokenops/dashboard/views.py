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


async def tenants(state: AppState, scope: Collection[str]) -> list[dict[str, Any]]:
    live = state.telemetry.live
    now = int(time.time() * 1000)
    per: dict[str, Totals] = defaultdict(Totals)
    for (tenant, _), t in live.totals.items():
        acc = per[tenant]
        for name in Totals.__slots__:
            setattr(acc, name, getattr(acc, name) + getattr(t, name))
    spend = await spend_by_account(state.store)
    holds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for hold in state.charging.credit.holds.values():
        holds[hold.tenant][0] += 1
        holds[hold.tenant][1] += hold.money
    rows = []
    for tenant in sorted(scope):
        info = state.catalog.tenants.get(tenant)
        doc: dict[str, Any] = {"tenant": tenant, "name": info.name if info else tenant,
                               "kind": info.kind if info else "", "sector": info.sector if info else ""}  # fmt: skip
        doc.update(_totals_doc(per[tenant]))
        account = state.charging.credit.accounts.get(tenant)
        s = spend.get(tenant)
        doc["spend_today"] = s.today if s else 0
        doc["spend_month"] = s.month if s else 0
        doc["open_reservations"], doc["reserved"] = holds[tenant]
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
    rows = []
    for dep in sorted(state.catalog.deployments.values(), key=lambda d: d.id):
        used = [(t, live.deployments[(t, dep.id)]) for t in scope if (t, dep.id) in live.deployments]
        owner = operator or (dep.tenant is not None and dep.tenant in scope)
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

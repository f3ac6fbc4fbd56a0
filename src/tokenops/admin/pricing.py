"""Admin endpoints for the price book, budgets and `ledger verify`.

A price version is added, never edited: it takes effect at its `effective` time (now or
later, never earlier, so re-rating the usage log still reproduces every past charge).
A budget is created or replaced whole; what was spent in its period is kept.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenops.admin.charging import account_of, audit, checked_period
from tokenops.admin.http import Call, fields, text
from tokenops.catalog.load import _Obj
from tokenops.charging.budgets import period_key
from tokenops.charging.catalog import BudgetSpec, parse_budget, parse_version, to_ms
from tokenops.charging.documents import iso, problem_doc
from tokenops.charging.incremental import DEFAULT_LIMIT, verification_doc, verify_incremental
from tokenops.charging.money import format_amount
from tokenops.charging.prices import ModelPrice, PriceVersion
from tokenops.charging.reconcile import page_of, reconcile_tenants
from tokenops.errors import BadRequest, ConfigError, Conflict, NotFound
from tokenops.periods import month_of
from tokenops.store import UsageRecord

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RATE = re.compile(r"^\d{1,9}(\.\d{1,9})?$")
_AMOUNT = re.compile(r"^\d{1,13}(\.\d{1,4})?$")


def _rates_are_sane(value: Any, where: str) -> None:
    """Every price, multiplier and discount a plain bounded decimal, so rating can never overflow."""
    if isinstance(value, dict):
        for k, v in value.items():
            _rates_are_sane(v, f"{where}.{k}")
    elif isinstance(value, bool) or not (
        (isinstance(value, int) and 0 <= value < 10**9) or (isinstance(value, str) and _RATE.match(value))
    ):
        raise BadRequest(f"{where}: must be a decimal string such as '2.50'", param=where.partition(".")[0])


def _price(p: ModelPrice) -> dict[str, str | None]:
    def s(d: Decimal | None) -> str | None:
        return None if d is None else str(d)

    return {"input": s(p.input), "output": s(p.output), "cached_input": s(p.cached_input),
            "cache_write": s(p.cache_write), "cache_write_1h": s(p.cache_write_1h),
            "reasoning": s(p.reasoning)}  # fmt: skip


def version_doc(v: PriceVersion, in_force: str | None) -> dict[str, Any]:
    return {
        "id": v.id,
        "effective": iso(v.effective_ms),
        "in_force": v.id == in_force,
        "currency": v.currency,
        "models": {m: _price(p) for m, p in sorted(v.models.items())},
        "sectors": {k: str(d) for k, d in sorted(v.sectors.items())},
        "tenants": {
            t: {"discount": str(terms.discount), "models": {m: _price(p) for m, p in sorted(terms.models.items())}}
            for t, terms in sorted(v.tenants.items())
        },
    }


async def list_prices(call: Call) -> Any:
    call.actor.require_operator()  # contract prices of every tenant are in the book
    book = call.state.charging.credit.book
    current = book.version_at(call.state.clock.now_ms())
    return {"versions": [version_doc(v, current.id if current else None) for v in book.versions]}


async def add_price(call: Call) -> Any:
    call.actor.require_operator()
    data = await call.json()
    fields(data, {"id", "effective", "models", "sectors", "tenants"}, {"id", "models"})
    version_id = text(data, "id", limit=64) or ""
    if not _ID.match(version_id):
        raise BadRequest("'id' may hold letters, digits, '.', '_' and '-' only", param="id")
    service = call.state.charging
    if any(v.id == version_id for v in service.config.prices):
        raise Conflict(f"price version {version_id!r} exists; versions are never edited", code="price_version_exists")
    now = call.state.clock.now_ms()
    try:
        effective = to_ms(data["effective"], "effective") if data.get("effective") is not None else now
    except ConfigError as exc:
        raise BadRequest(str(exc), param="effective") from None
    if not now - 5_000 <= effective < 2**48:
        raise BadRequest("'effective' must be now or later: past charges keep the prices they had", param="effective")
    for name in ("models", "sectors", "tenants"):
        _rates_are_sane(data.get(name) or {}, name)
    docs = await service.store.config_docs()
    prices = [d for k, d in docs.items() if k.startswith("price:")]
    latest = max(prices, key=lambda d: int(d.get("effective", 0)), default={})
    # sectors and contract terms carry over from the latest version unless this one names them
    doc = {"sectors": latest.get("sectors", {}), "tenants": latest.get("tenants", {}), **data, "effective": effective}
    try:
        version = parse_version(_Obj(dict(doc), "price"), service.config.currency)
    except ConfigError as exc:
        raise BadRequest(str(exc), code="invalid_price") from None
    known = call.state.catalog.models
    unknown = [m for m in [*version.models, *(m for t in version.tenants.values() for m in t.models)] if m not in known]
    if unknown:
        raise BadRequest(f"unknown model {unknown[0]!r}", param="models")
    await service.put_config("price:" + version_id, doc)
    await audit(call, "prices.add", "price:" + version_id, None, None, doc)
    return 201, version_doc(version, None)


def _visible(call: Call, spec: BudgetSpec) -> str | None:
    """The tenant a budget belongs to (a key budget: its key's tenant)."""
    if spec.scope != "key":
        return spec.target
    return next((k.tenant_id for k in call.state.catalog.keys.values() if k.id == spec.target), None)


def budget_doc(call: Call, spec: BudgetSpec, tenant: str | None) -> dict[str, Any]:
    currency = call.state.charging.config.currency
    period = period_key(spec.period, call.state.clock.now_ms())
    counter = call.state.charging.credit.budgets.counters.get((spec.id, spec.target, period))
    spent = None if spec.scope == "session" else counter.spent if counter is not None else 0  # sessions: many

    def show(n: int | None) -> str | int | None:
        return n if n is None or spec.tokens is not None else format_amount(n, currency)

    return {
        "id": spec.id, "scope": spec.scope, "target": spec.target, "tenant": tenant, "period": spec.period,
        "mode": spec.mode, "amount": show(spec.amount), "tokens": spec.tokens,
        "spent_this_period": show(spent), "period_key": period,
    }  # fmt: skip


async def list_budgets(call: Call) -> Any:
    scope = call.actor.scope(call.query.get("tenant"))
    found = [(s, _visible(call, s)) for s in call.state.charging.config.budgets]
    return {"budgets": [budget_doc(call, s, t) for s, t in found if scope is None or t == scope]}


async def set_budget(call: Call) -> Any:
    call.actor.require_operator()
    budget_id = call.params["budget_id"]
    if not _ID.match(budget_id):
        raise BadRequest("a budget id may hold letters, digits, '.', '_' and '-' only", param="budget_id")
    data = await call.json()
    fields(data, {"scope", "tenant", "key", "period", "mode", "amount", "tokens"}, {"scope"})
    amount, tokens = data.get("amount"), data.get("tokens")
    if amount is not None and not (isinstance(amount, str) and _AMOUNT.match(amount)):
        raise BadRequest("'amount' must be an amount in major units as a string, e.g. '500.00'", param="amount")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 < tokens < 10**15):
        raise BadRequest("'tokens' must be a positive integer", param="tokens")
    doc = {"id": budget_id, **data}
    service = call.state.charging
    try:
        spec = parse_budget(_Obj(dict(doc), "budget"), service.config.currency)
    except ConfigError as exc:
        raise BadRequest(str(exc), code="invalid_budget") from None
    tenant = _visible(call, spec)
    if tenant is None or tenant not in call.state.catalog.tenants:
        what = "key" if spec.scope == "key" else "tenant"
        raise NotFound(f"no {what} {spec.target!r}", code=f"{what}_not_found")
    before = next((budget_doc(call, s, tenant) for s in service.config.budgets if s.id == budget_id), None)
    await service.put_config("budget:" + budget_id, doc)
    after = budget_doc(call, spec, tenant)
    await audit(call, "budgets.set", "budget:" + budget_id, tenant, before, after)
    return (200 if before else 201), after


async def verify(call: Call) -> Any:
    """What is new since the last checkpoint, at most `limit` entries a call: never the whole ledger here."""
    call.actor.require_operator()
    if call.query.get("full") not in (None, "", "0", "false"):
        refused = "a full verification reads the whole ledger: run `tokenops ledger verify --full` instead"
        raise BadRequest(refused, param="full")
    grace = call.int_query("grace_ms", 60_000, 0, 86_400_000)
    limit = call.int_query("limit", DEFAULT_LIMIT, 1, DEFAULT_LIMIT)
    state = call.state
    sectors = {t.id: t.sector for t in state.catalog.tenants.values()}
    now = call.state.clock.now_ms()
    found = await verify_incremental(state.charging.store, sectors, now, grace or 0, limit or DEFAULT_LIMIT)
    return {
        "ok": not found.problems,
        "checked_at": datetime.now(UTC).isoformat(),
        "usage_records": found.usage_records,
        "checked": found.checked(),
        "summary": found.summary(),
        **verification_doc(found),
        "problems": [problem_doc(p) for p in found.problems],
    }


async def reconcile_period(call: Call) -> Any:
    """Tokens served against charged, charges against re-rated usage, invoices against charges, per tenant-hour.

    One tenant, or every tenant in pages of `limit` (after the tenant `after`; `next` says where the next
    page starts): a page reads its tenants' ledgers and the period's usage records, one tenant at a time.
    """
    period = checked_period(call.query.get("period") or month_of(call.state.clock.now_ms()))
    tenant = call.query.get("tenant") or None
    state = call.state
    if tenant is None:
        call.actor.require_operator()
        limit = call.int_query("limit", 100, 1, 1000) or 100
        tenants, following = page_of(state.charging.credit.accounts, call.query.get("after") or "", limit)
    else:
        account_of(call, tenant)  # a tenant admin reconciles its own tenant only
        tenants, following = [tenant], None

    async def records_of(t: str, since_ms: int, until_ms: int) -> list[UsageRecord]:
        return await state.store.usage_records(t, since_ms, until_ms)

    found = await reconcile_tenants(state.charging.store, records_of, state.charging.sectors, period, tenants)
    return {**found.to_doc(), "next": following}

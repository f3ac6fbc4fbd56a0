"""Reconciliation of a period: what was served against what was charged and what was invoiced.

For every tenant with an account and every hour (UTC) of the period, from two sources
kept apart (the usage records, and the ledger's charges):

- tokens served (the usage records) = tokens charged (the charges' token counts);
- money charged = the usage records re-rated at the price version in force when each
  request started, less what packages covered (a charge written off is a difference);
- a usage record with tokens has its charge, and a charge its usage record.

Then per tenant: the invoice's lines add up to the period's charges and plan fees and
credits, exactly, and its billed amounts to the running total's rounding (see
`invoice.py`). Each difference is a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tokenops.charging.catalog import config_from_docs
from tokenops.charging.documents import iso
from tokenops.charging.invoice import build_invoice, month_bounds
from tokenops.charging.ledger import Entry
from tokenops.charging.money import UNIT_DIGITS, format_exact, to_minor
from tokenops.charging.plan_ledger import charge_rates, covered, terms_by_subscription
from tokenops.charging.plans import PlanTerms
from tokenops.charging.prices import PriceBook, Tokens
from tokenops.charging.store import ChargingStore
from tokenops.store import UsageRecord

HOUR_MS = 3_600_000


@dataclass(slots=True)
class Hour:
    requests: int = 0  # usage records with tokens
    charges: int = 0
    tokens_served: int = 0
    tokens_charged: int = 0
    rerated: int = 0  # accounting units
    charged: int = 0  # accounting units


@dataclass(slots=True)
class Reconciliation:
    period: str
    hours: dict[tuple[str, int], Hour] = field(default_factory=dict)
    differences: list[dict[str, Any]] = field(default_factory=list)
    invoices: int = 0

    def to_doc(self) -> dict[str, Any]:
        return {
            "ok": not self.differences,
            "period": self.period,
            "summary": self.summary(),
            "tenant_hours": len(self.hours),
            "tokens_served": sum(h.tokens_served for h in self.hours.values()),
            "tokens_charged": sum(h.tokens_charged for h in self.hours.values()),
            "charged": format_exact(sum(h.charged for h in self.hours.values())),
            "rerated": format_exact(sum(h.rerated for h in self.hours.values())),
            "differences": self.differences,
        }

    def summary(self) -> str:
        tenants = len({t for t, _ in self.hours})
        served = sum(h.tokens_served for h in self.hours.values())
        charged = sum(h.charged for h in self.hours.values())
        return (
            f"{tenants:,} tenants over {len(self.hours):,} tenant-hours: {served:,} tokens served, "
            f"{format_exact(charged)} charged; {self.invoices:,} invoices against their charges"
        )


def _rerate(book: PriceBook, terms: dict[str, PlanTerms], sectors: dict[str, str], record: UsageRecord, at_ms: int,
            entry: Entry | None, currency: str) -> int:  # fmt: skip
    model = record.model_served or record.model_requested
    meta = entry.meta if entry is not None else None
    rates = charge_rates(book, terms, sectors.get(record.tenant_id, ""), record.tenant_id, model, at_ms, meta, currency)
    if rates is None:
        return 0
    tokens = Tokens.of(record)
    paid_for = covered(meta) if meta is not None else 0
    digits = entry.hashed_digits if entry is not None else UNIT_DIGITS  # a migrated charge was rated to the fen
    return rates.charge(tokens.after_package(paid_for), digits) * int(10 ** (UNIT_DIGITS - digits))


def _diff(tenant: str, at: int | str, check: str, detail: str) -> dict[str, Any]:
    return {"tenant": tenant, "hour": iso(at) if isinstance(at, int) else at, "check": check, "detail": detail}


def reconcile_rows(
    period: str, start_ms: int, end_ms: int, book: PriceBook, sectors: dict[str, str], accounts: Collection[str],
    entries: list[Entry], records: list[UsageRecord], currency: str, tenant: str | None = None,
) -> Reconciliation:  # fmt: skip
    out = Reconciliation(period)
    terms = terms_by_subscription(entries, currency)
    wanted = {a for a in accounts if tenant is None or a == tenant}
    charges = {e.request_id: e for e in entries if e.kind == "charge" and e.account_id in wanted
               and start_ms <= e.meta["started_ms"] < end_ms}  # fmt: skip
    seen: set[str] = set()
    for r in records:
        tokens = r.input_tokens + r.output_tokens
        entry = charges.get(r.request_id)
        at = entry.meta["started_ms"] if entry is not None else r.created_ms  # the start the charge was rated at
        if r.tenant_id not in wanted or not start_ms <= at < end_ms or not tokens:
            continue
        hour = out.hours.setdefault((r.tenant_id, at // HOUR_MS * HOUR_MS), Hour())
        hour.requests += 1
        hour.tokens_served += tokens
        hour.rerated += _rerate(book, terms, sectors, r, at, entry, currency)
        if entry is None:
            detail = f"request {r.request_id}: {tokens} tokens served and never charged"
            out.differences.append(_diff(r.tenant_id, at, "served_not_charged", detail))
        else:
            seen.add(r.request_id)
    for request_id, e in charges.items():
        started = e.meta["started_ms"]
        hour = out.hours.setdefault((e.account_id, started // HOUR_MS * HOUR_MS), Hour())
        hour.charges += 1
        hour.tokens_charged += sum(e.meta["tokens"])
        hour.charged += -e.amount
        if request_id not in seen:
            detail = f"charge {e.idem_key} has no usage record with tokens in the period"
            out.differences.append(_diff(e.account_id, started, "charged_not_served", detail))
    for (t, at), h in sorted(out.hours.items()):
        if h.tokens_served != h.tokens_charged:
            detail = f"{h.tokens_served} tokens served, {h.tokens_charged} charged"
            out.differences.append(_diff(t, at, "tokens", detail))
        if h.rerated != h.charged:
            out.differences.append(_diff(t, at, "money", f"re-rated usage {h.rerated} units, charged {h.charged}"))
    for t in sorted(wanted):
        out.invoices += 1
        out.differences += _invoice_differences(entries, t, period, start_ms, end_ms, currency)
    return out


def _invoice_differences(
    entries: list[Entry], tenant: str, period: str, start_ms: int, end_ms: int, currency: str
) -> list[dict[str, Any]]:
    mine = [e for e in entries if e.account_id == tenant]
    inv = build_invoice(mine, tenant, period, currency, Decimal(0))  # tax plays no part in this check
    charged = [(e.meta["started_ms"], -e.amount) for e in mine if e.kind == "charge"]
    fees = [(e.meta["period"], -e.amount) for e in mine if e.kind in ("plan_fee", "plan_credit")]
    before = sum(a for at, a in charged if at < start_ms) + sum(a for p, a in fees if p < period)
    during = sum(a for at, a in charged if start_ms <= at < end_ms) + sum(a for p, a in fees if p == period)
    grants = sum(to_minor(-e.amount, currency) for e in mine
                 if e.kind == "package_grant" and start_ms <= e.created_ms < end_ms)  # fmt: skip
    found = []
    exact = sum(line.exact for line in inv.lines) + sum(p.exact for p in inv.plans)
    if exact != during:
        found.append(f"lines add up to {exact} units, the charges and plan fees to {during}")
    billed = sum(line.amount for line in inv.lines) + sum(p.amount for p in inv.plans)
    if billed != to_minor(before + during, currency) - to_minor(before, currency):
        found.append(f"lines bill {billed} minor units, the running total's rounding says otherwise")
    if inv.subtotal != billed + grants:
        found.append(f"subtotal {inv.subtotal} != lines {billed} + packages {grants}")
    return [_diff(tenant, period, "invoice", d) for d in found]


async def reconcile(
    store: ChargingStore, records: list[UsageRecord], sectors: dict[str, str], period: str, tenant: str | None = None
) -> Reconciliation:
    start_ms, end_ms = month_bounds(period)
    config = config_from_docs(await store.config_docs())
    book = PriceBook(list(config.prices))
    accounts = await store.accounts()
    entries = await store.entries(tenant)
    return reconcile_rows(period, start_ms, end_ms, book, sectors, accounts, entries, records, config.currency, tenant)


RecordsOf = Callable[[str, int, int], Awaitable[list[UsageRecord]]]  # a tenant's usage records in [since, until)


async def reconcile_tenants(
    store: ChargingStore, records_of: RecordsOf, sectors: dict[str, str], period: str, tenants: Collection[str]
) -> Reconciliation:
    """The period reconciled tenant by tenant: one tenant's ledger and the period's usage records in memory at a
    time (never the whole usage log), the re-rating off the event loop."""
    start_ms, end_ms = month_bounds(period)
    config = config_from_docs(await store.config_docs())
    book = PriceBook(list(config.prices))
    out = Reconciliation(period)
    for tenant in tenants:
        entries = await store.entries(tenant)
        records = await records_of(tenant, start_ms, end_ms)  # a charge is rated (and counted) at its start
        part = await asyncio.to_thread(reconcile_rows, period, start_ms, end_ms, book, sectors, [tenant], entries,
                                       records, config.currency, tenant)  # fmt: skip
        out.hours.update(part.hours)
        out.differences += part.differences
        out.invoices += part.invoices
    return out


def page_of(accounts: Collection[str], after: str, limit: int) -> tuple[list[str], str | None]:
    """Up to `limit` account ids after `after`, in order, and where the next page starts (None: this is the last)."""
    ids = sorted(a for a in accounts if a > after)
    return ids[:limit], (ids[limit - 1] if len(ids) > limit else None)

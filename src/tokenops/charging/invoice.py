"""Invoices per tenant and calendar month (UTC), and the revenue/margin report.

An invoice line is one model at one price version; its exact amount is the sum of the
per-request charges, in accounting units. Where the money meets the customer it is
rounded to the minor unit by one rule: half up on the account's running total of
charges, since its first, in the order of the invoices (month by month, then line by
line, sorted by model and version). A line is billed

    R(charges through this line) - R(charges before this line)

so what one line's rounding leaves over is carried to the next line and the next
period, never dropped: over any number of periods the amounts invoiced equal
R(all the charges), within half a minor unit of their exact sum. Each invoice states
the remainder it carried in and carries out. Package purchases (whole minor units
already) are their own lines; tax is one rounding of the subtotal.

Plans join the same running total: a month's fee (prorated where the plan started,
changed or ended in it) and a credit for the unused share of it are lines of the month
they belong to, before the usage lines; each usage line says how many of its tokens a
plan's allowance paid (`plan_tokens`), and the invoice lists each allowance of the month:
granted, carried in and out, used and left.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenops.catalog import Catalog
from tokenops.charging.ledger import Entry
from tokenops.charging.money import minor_step, rate_units, round_half_up, to_minor
from tokenops.charging.plan_ledger import allowances
from tokenops.charging.plans import fraction_of
from tokenops.charging.prices import Tokens
from tokenops.errors import ConfigError
from tokenops.periods import month_of
from tokenops.store import UsageRecord


@dataclass(slots=True)
class InvoiceLine:
    model: str
    version: str
    requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0  # of output_tokens
    cache_write_tokens: int = 0  # of input_tokens
    package_tokens: int = 0
    plan_tokens: int = 0  # of all its tokens, those a plan's allowance paid
    exact: int = 0  # accounting units
    amount: int = 0  # minor units, as billed


@dataclass(slots=True)
class PlanLine:
    """A plan's fee for (a share of) the month, or the credit when it changed or ended."""

    subscription: str
    plan: str
    kind: str  # fee | credit
    share: str  # of the month, e.g. '20/31'; for a credit, the share of the fee credited
    exact: int  # accounting units billed (negative: credited)
    amount: int = 0  # minor units, as billed


@dataclass(slots=True)
class Invoice:
    tenant: str
    period: str
    currency: str
    tax_rate: Decimal
    lines: list[InvoiceLine] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)  # amounts in minor units
    plans: list[PlanLine] = field(default_factory=list)
    allowances: list[dict[str, Any]] = field(default_factory=list)  # each plan allowance of the month
    carried_in: int = 0  # accounting units earlier invoices' rounding left unbilled (negative: billed ahead)
    carried_out: int = 0  # the same after this invoice
    subtotal: int = 0  # minor units, as are tax and total
    tax: int = 0
    total: int = 0


def month_bounds(period: str) -> tuple[int, int]:
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"--period: expected YYYY-MM, got {period!r}") from None
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def billed_in(e: Entry) -> tuple[str, int] | None:
    """The month an entry is invoiced in and what it bills (accounting units; negative: a credit), for the
    entries the running total adds up: charges (by when their request started) and plan fees and credits."""
    if e.kind == "charge":
        return month_of(e.meta["started_ms"]), -e.amount
    if e.kind in ("plan_fee", "plan_credit"):
        return e.meta["period"], -e.amount
    return None


def build_invoice(
    entries: list[Entry], tenant: str, period: str, currency: str, tax_rate: Decimal, before: int = 0
) -> Invoice:
    """The invoice of `tenant` for `period`, from the account's entries: all of them (the running total before
    the period decides how its first line is rounded), or those written since shortly before the period began
    with `before`, what the account's earlier entries billed (see `invoice_of`)."""
    start, end = month_bounds(period)
    invoice = Invoice(tenant, period, currency, tax_rate)
    lines: dict[tuple[str, str], InvoiceLine] = {}
    mine = [e for e in entries if e.account_id == tenant]
    for e in mine:
        billed = billed_in(e)
        if billed is not None and billed[0] < period:
            before += billed[1]
        elif e.kind == "charge" and billed is not None and billed[0] == period:
            m = e.meta
            line = lines.setdefault((m["model"], m["version"]), InvoiceLine(m["model"], m["version"]))
            t = Tokens(*m["tokens"])
            line.requests += 1
            line.input_tokens += t.input + t.cached + t.cache_write + t.cache_write_1h
            line.cached_tokens += t.cached
            line.cache_write_tokens += t.cache_write + t.cache_write_1h
            line.output_tokens += t.output + t.reasoning
            line.reasoning_tokens += t.reasoning
            line.package_tokens += sum(m.get("packages", {}).values())
            line.plan_tokens += sum((m.get("plan") or {}).values())
            line.exact += -e.amount
        elif billed is not None and billed[0] == period:
            m = e.meta
            part = "/".join(map(str, m["share"])) if e.kind == "plan_fee" else _credited(m)
            invoice.plans.append(PlanLine(m["subscription"], _plan_id(mine, m["subscription"]),
                                          "fee" if e.kind == "plan_fee" else "credit", part, billed[1]))  # fmt: skip
        elif e.kind == "package_grant" and start <= e.created_ms < end:
            invoice.packages.append({"package": e.meta["package"], "grant": e.meta["grant_id"],
                                     "tokens": e.meta["tokens"], "amount": to_minor(-e.amount, currency)})  # fmt: skip
    invoice.lines = sorted(lines.values(), key=lambda x: (x.model, x.version))
    running = before
    for plan_line in invoice.plans:
        plan_line.amount = to_minor(running + plan_line.exact, currency) - to_minor(running, currency)
        running += plan_line.exact
    for line in invoice.lines:
        line.amount = to_minor(running + line.exact, currency) - to_minor(running, currency)
        running += line.exact
    step = minor_step(currency)
    invoice.carried_in = before - to_minor(before, currency) * step
    invoice.carried_out = running - to_minor(running, currency) * step
    invoice.allowances = [{"grant": gid, "subscription": a.subscription, "plan": a.plan, "models": a.models,
                           "granted": a.granted, "rolled_in": a.rolled_in, "rolled_out": a.rolled_out,
                           "total": a.total, "used": a.used, "left": a.total - a.used}
                          for gid, a in allowances(mine).items() if a.period == period]  # fmt: skip
    invoice.subtotal = (sum(x.amount for x in invoice.lines) + sum(p.amount for p in invoice.plans)
                        + sum(p["amount"] for p in invoice.packages))  # fmt: skip
    invoice.tax = round_half_up(invoice.subtotal * tax_rate)
    invoice.total = invoice.subtotal + invoice.tax
    return invoice


def _plan_id(entries: list[Entry], subscription: str) -> str:
    for e in entries:
        if e.kind == "plan_fee" and e.meta["subscription"] == subscription:
            return str(e.meta["plan"]["id"])
    return ""


def _credited(meta: dict[str, Any]) -> str:
    """The share of the fee a credit gave back: the smaller of the time and the allowance left."""
    return str(min(fraction_of(meta["by_time"]), fraction_of(meta["by_allowance"])))


def margin_rows(
    entries: list[Entry], records: list[UsageRecord], catalog: Catalog, since_ms: int, until_ms: int
) -> list[dict[str, Any]]:
    """Revenue, upstream cost and margin (accounting units) per tenant, sector and model.

    Revenue is what the request's charge debited plus, for the tokens a package covered, their
    share of the package's price (price / tokens of the grant, per token), and for those a plan's
    allowance covered, their share of the month's fee (fee / tokens it granted). Both sides are rated
    per request and rounded to the accounting unit alike, so a price at or above cost is never a
    negative margin."""
    by_request = {r.request_id: r for r in records}
    per_token = {e.meta["grant_id"]: Decimal(-e.amount) / e.meta["tokens"]
                 for e in entries if e.kind == "package_grant" and e.meta.get("tokens")}  # fmt: skip
    for e in entries:  # a plan's allowance tokens, at their share of the month's fee
        granted = sum(g["tokens"] for g in e.meta.get("grants", ())) if e.kind == "plan_fee" else 0
        per_token.update({g["id"]: Decimal(-e.amount) / granted for g in e.meta["grants"]} if granted else {})
    revenue: dict[tuple[str, str, str], int] = defaultdict(int)
    cost: dict[tuple[str, str, str], int] = defaultdict(int)
    for e in entries:
        if e.kind != "charge" or not since_ms <= e.meta["started_ms"] < until_ms:
            continue
        tenant = catalog.tenants.get(e.account_id)
        key = (e.account_id, tenant.sector if tenant else "", e.meta["model"])
        drawn = {**e.meta.get("packages", {}), **(e.meta.get("plan") or {})}
        packaged = sum(n * per_token.get(grant, Decimal(0)) for grant, n in drawn.items())
        revenue[key] += -e.amount + round_half_up(Decimal(packaged))
        record = by_request.get(e.request_id or "")
        deployment = catalog.deployments.get(record.deployment_id or "") if record else None
        if record is not None and deployment is not None:
            d = deployment
            cost[key] += rate_units(record.input_tokens * d.input_cost_per_mtok
                                    + record.output_tokens * d.output_cost_per_mtok)  # fmt: skip
    return [{"tenant": key[0], "sector": key[1], "model": key[2], "revenue": revenue[key],
             "upstream_cost": cost[key], "margin": revenue[key] - cost[key]} for key in sorted(revenue)]  # fmt: skip

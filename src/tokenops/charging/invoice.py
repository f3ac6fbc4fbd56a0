"""Invoices per tenant and calendar month (UTC), and the revenue/margin report.

An invoice line is one model at one price version; its amount is the sum of the
per-request charges (each already rounded once). Package purchases are their own lines,
package tokens used are shown per line, and tax is one rounding of the subtotal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenops.catalog import Catalog
from tokenops.charging.ledger import Entry
from tokenops.charging.money import MTOK, minor_digits, round_half_up
from tokenops.errors import ConfigError
from tokenops.store import UsageRecord


@dataclass(slots=True)
class InvoiceLine:
    model: str
    version: str
    requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    package_tokens: int = 0
    amount: int = 0


@dataclass(slots=True)
class Invoice:
    tenant: str
    period: str
    currency: str
    tax_rate: Decimal
    lines: list[InvoiceLine] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    subtotal: int = 0
    tax: int = 0
    total: int = 0


def month_bounds(period: str) -> tuple[int, int]:
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"--period: expected YYYY-MM, got {period!r}") from None
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def build_invoice(entries: list[Entry], tenant: str, period: str, currency: str, tax_rate: Decimal) -> Invoice:
    start, end = month_bounds(period)
    invoice = Invoice(tenant, period, currency, tax_rate)
    lines: dict[tuple[str, str], InvoiceLine] = {}
    for e in entries:
        if e.account_id != tenant:
            continue
        if e.kind == "charge" and start <= e.meta["started_ms"] < end:
            m = e.meta
            line = lines.setdefault((m["model"], m["version"]), InvoiceLine(m["model"], m["version"]))
            inp, cached, write, out = m["tokens"]
            line.requests += 1
            line.input_tokens += inp + cached + write
            line.cached_tokens += cached
            line.output_tokens += out
            line.package_tokens += sum(m.get("packages", {}).values())
            line.amount += -e.amount
        elif e.kind == "package_grant" and start <= e.created_ms < end:
            invoice.packages.append({"package": e.meta["package"], "grant": e.meta["grant_id"],
                                     "tokens": e.meta["tokens"], "amount": -e.amount})  # fmt: skip
    invoice.lines = sorted(lines.values(), key=lambda x: (x.model, x.version))
    invoice.subtotal = sum(x.amount for x in invoice.lines) + sum(p["amount"] for p in invoice.packages)
    invoice.tax = round_half_up(invoice.subtotal * tax_rate)
    invoice.total = invoice.subtotal + invoice.tax
    return invoice


def margin_rows(
    entries: list[Entry], records: list[UsageRecord], catalog: Catalog, currency: str, since_ms: int, until_ms: int
) -> list[dict[str, Any]]:
    """Revenue, upstream cost and margin (minor units) per tenant, sector and model."""
    by_request = {r.request_id: r for r in records}
    scale = Decimal(10) ** minor_digits(currency)
    revenue: dict[tuple[str, str, str], int] = defaultdict(int)
    cost: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for e in entries:
        if e.kind != "charge" or not since_ms <= e.meta["started_ms"] < until_ms:
            continue
        tenant = catalog.tenants.get(e.account_id)
        key = (e.account_id, tenant.sector if tenant else "", e.meta["model"])
        revenue[key] += -e.amount
        record = by_request.get(e.request_id or "")
        deployment = catalog.deployments.get(record.deployment_id or "") if record else None
        if record is not None and deployment is not None:
            d = deployment
            cost[key] += (
                record.input_tokens * d.input_cost_per_mtok + record.output_tokens * d.output_cost_per_mtok
            ) * (scale / MTOK)
    rows = []
    for key in sorted(revenue):
        upstream = round_half_up(cost[key])
        rows.append({"tenant": key[0], "sector": key[1], "model": key[2], "revenue": revenue[key],
                     "upstream_cost": upstream, "margin": revenue[key] - upstream})  # fmt: skip
    return rows

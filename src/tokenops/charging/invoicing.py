"""Invoices read from the store without loading an account's whole history, one or all at month end.

A request is charged after it starts, so every charge of a period was written at or after the
period began, and a plan's fee for a month is written at most RENEWAL_LEAD_MS before it: the
invoice reads the entries written since a day before the period, and takes what came before as
one sum (which decides how the period's first line is rounded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

from tokenops.charging.invoice import Invoice, build_invoice, month_bounds
from tokenops.charging.store import ChargingStore

RENEWAL_LEAD_MS = 86_400_000  # a plan's fee for a month is written before the month starts, never a day before


async def invoice_of(store: ChargingStore, tenant: str, period: str, currency: str, tax_rate: Decimal) -> Invoice:
    start, _ = month_bounds(period)
    since = start - RENEWAL_LEAD_MS
    before = await store.billed_before(tenant, since)
    entries = await store.entries(tenant, since)
    return build_invoice(entries, tenant, period, currency, tax_rate, before)


async def invoices(
    store: ChargingStore, tenants: list[str], period: str, currency: str, tax_rate: Decimal
) -> AsyncIterator[Invoice]:
    """Every tenant's invoice for the period, one after another (the month-end run)."""
    for tenant in tenants:
        yield await invoice_of(store, tenant, period, currency, tax_rate)

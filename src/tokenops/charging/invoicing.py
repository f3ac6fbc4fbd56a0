"""Invoices read from the store without loading an account's whole history, one or all at month end.

A request is charged after it starts, so every charge of a period was written at or after the
period began: the invoice reads the entries written since then, and takes what came before as
one sum (which decides how the period's first line is rounded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

from tokenops.charging.invoice import Invoice, build_invoice, month_bounds
from tokenops.charging.store import ChargingStore


async def invoice_of(store: ChargingStore, tenant: str, period: str, currency: str, tax_rate: Decimal) -> Invoice:
    start, _ = month_bounds(period)
    before = await store.charged_before(tenant, start)
    entries = await store.entries(tenant, start)
    return build_invoice(entries, tenant, period, currency, tax_rate, before)


async def invoices(
    store: ChargingStore, tenants: list[str], period: str, currency: str, tax_rate: Decimal
) -> AsyncIterator[Invoice]:
    """Every tenant's invoice for the period, one after another (the month-end run)."""
    for tenant in tenants:
        yield await invoice_of(store, tenant, period, currency, tax_rate)

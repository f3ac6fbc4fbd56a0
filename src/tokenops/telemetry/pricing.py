"""The money of one settled request: what it is rated at the list price, and what its upstream cost.

The rated amount is the price before packages (what the tokens are worth); the ledger's
charge is what money actually paid. Margin is rated minus upstream cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenops.catalog import Catalog
from tokenops.charging.money import rate_units
from tokenops.charging.prices import Tokens
from tokenops.charging.service import ChargingService
from tokenops.store import UsageRecord


@dataclass(frozen=True, slots=True)
class Money:
    rated: int  # accounting units
    cost: int  # accounting units
    currency: str


def money_of(record: UsageRecord, catalog: Catalog, charging: ChargingService) -> Money | None:
    if not (record.input_tokens or record.output_tokens):
        return None
    tenant = record.tenant_id
    model = record.model_served or record.model_requested
    rates = charging.credit.book.rates(record.created_ms, tenant, charging.sectors.get(tenant, ""), model)
    currency = rates.currency if rates is not None else charging.config.currency
    tokens = Tokens.of(record)
    rated = rates.charge(tokens) if rates is not None else 0
    cost = 0
    dep = catalog.deployments.get(record.deployment_id or "")
    if dep is not None:
        per_mtok = dep.input_cost_per_mtok * record.input_tokens + dep.output_cost_per_mtok * record.output_tokens
        cost = rate_units(per_mtok)
    return Money(rated, cost, currency)

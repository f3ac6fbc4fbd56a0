"""Replay one recorded request through a policy offline: where it would run, what it would cost and earn.

Routing goes through the gateway's own `plan_route` (hard constraints, strategies,
fallbacks, complexity aliases) with every deployment healthy; nothing is sent upstream.
Each deployment the plan may use (fallbacks included) is then judged against the
tenant's constraints as in force, so a policy that loosens them is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tokenops.catalog import ApiKey, Catalog, Deployment, Tenant
from tokenops.charging.money import MTOK, UNIT
from tokenops.charging.prices import Tokens
from tokenops.errors import TokenopsError
from tokenops.gateway.auth import Principal
from tokenops.gateway.route import RoutePlan, Scorer, allowed, plan_route
from tokenops.health import Health
from tokenops.policy.side import Policy
from tokenops.policy.traffic import Request


@dataclass(slots=True)
class Outcome:
    tenant: str
    model: str | None = None  # the model that would serve it
    refused: str | None = None  # the refusal's code
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)  # upstream cost, exact accounting units
    revenue: int = 0  # the charge at the price book, rounded once per request as billed, accounting units
    revenue_exact: Decimal = Decimal(0)  # the same before rounding
    choice: str | None = None  # "weak" or "strong" when a complexity alias chose the model
    score: float | None = None
    threshold: float | None = None  # the policy's threshold for that choice
    prompt_kind: str | None = None  # the request's kind of prompt (routing.kinds), where its content is known
    violations: list[tuple[str, str]] = field(default_factory=list)  # (deployment, reason)

    @property
    def served(self) -> bool:
        return self.refused is None


class _Known:
    """A scorer that answers the score already computed for this request."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, chat_body: Mapping[str, Any]) -> float:
        return self.value


def breach(tenant: Tenant, deployment: Deployment) -> str | None:
    """Why a deployment may not serve this tenant as its constraints stand, or None."""
    if deployment.region not in tenant.residency:
        return f"region {deployment.region} outside residency {', '.join(tenant.residency)}"
    if tenant.isolation == "dedicated" and deployment.pool != "dedicated":
        return "dedicated tenant on the shared pool"
    if tenant.isolation == "dedicated" and deployment.tenant != tenant.id:
        return f"on {deployment.tenant}'s dedicated deployment"
    if tenant.isolation == "shared" and deployment.pool != "shared":
        return "shared tenant on a dedicated deployment"
    return None


def unit_costs(plan: RoutePlan, strategy: str) -> tuple[Decimal, Decimal]:
    """Expected upstream cost per Mtok (input, output) over the deployments that share the load."""
    primary = [d for d in plan.candidates if d.model == plan.model.name] or plan.candidates
    if strategy == "lowest_cost":
        cheapest = min(primary, key=lambda d: d.input_cost_per_mtok + d.output_cost_per_mtok)
        return cheapest.input_cost_per_mtok, cheapest.output_cost_per_mtok
    total = sum(d.weight for d in primary) or 1
    return (
        sum((d.input_cost_per_mtok * d.weight for d in primary), Decimal(0)) / total,
        sum((d.output_cost_per_mtok * d.weight for d in primary), Decimal(0)) / total,
    )


def replay(policy: Policy, in_force: Catalog, req: Request, router: Scorer) -> Outcome:
    catalog = policy.catalog
    out = Outcome(req.tenant)
    tenant = catalog.tenants.get(req.tenant)
    if tenant is None or req.recorded_refusal:
        out.refused = req.recorded_refusal or "unknown_tenant"
        return out
    principal = Principal(tenant, ApiKey("replay", tenant.id, "", ""))
    alias = catalog.aliases.get(req.model)
    body, scorer = req.body, None
    if alias is not None and alias.router == "complexity":
        score = req.score(router)
        if score is not None:
            body, scorer = body or {}, _Known(score)
    try:
        plan = plan_route(catalog, principal, req.model, req.kind, Health(), body, scorer)
    except TokenopsError as exc:
        out.refused = exc.code
        return out
    out.model, out.choice, out.score, out.threshold = plan.model.name, plan.choice, plan.score, plan.threshold
    out.prompt_kind = req.prompt_kind
    held = in_force.tenants.get(tenant.id, tenant)
    probe = Principal(held, principal.key)
    out.violations = [(d.id, breach(held, d) or "") for d in plan.candidates if not allowed(probe, d)]
    out.input_tokens = req.prompt_tokens(plan.model.tokenizer)
    out.output_tokens = req.output_tokens
    strategy = alias.strategy if alias and alias.strategy and plan.choice is None else plan.model.strategy
    per_in, per_out = unit_costs(plan, strategy)
    out.cost = (out.input_tokens * per_in + out.output_tokens * per_out) * UNIT / MTOK
    if tenant.id in policy.wallets:
        rates = policy.book.rates(req.at_ms, tenant.id, tenant.sector, plan.model.name)
        if rates is None:
            out.refused, out.model, out.cost = "model_not_priced", None, Decimal(0)
            return out
        tokens = Tokens.of_usage(out.input_tokens, req.cached_tokens, 0, out.output_tokens)
        out.revenue, out.revenue_exact = rates.charge(tokens), rates.exact(tokens)
    return out

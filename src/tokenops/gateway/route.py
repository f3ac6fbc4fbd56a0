"""Route: the deployments that may serve a request — hard constraints first, then the strategy.

Residency, pool and tenant isolation are never relaxed, not even for a fallback model:
if no deployment satisfies them the request is refused (403), and if those that do are
all down, 503. Among the permitted deployments the model's (or alias's) strategy orders
the candidates; an alias's fallback models follow, under the same constraints.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tokenops.catalog import Alias, Catalog, Deployment, Model, Tenant
from tokenops.errors import BadRequest, NotFound, PermissionDenied, ServiceUnavailable
from tokenops.gateway.auth import Principal
from tokenops.health import Health


@dataclass(slots=True)
class RoutePlan:
    model: Model
    candidates: list[Deployment]  # in the order to try; a fallback model's deployments come last
    chain: list[Model]  # the model and its fallbacks: a reservation covers the dearest of them
    score: float | None = None  # the complexity router's score, when it chose the model
    choice: str | None = None  # "weak" or "strong"
    threshold: float | None = None  # the score from which the strong model was chosen

    def preferring(self, deployment_id: str) -> RoutePlan:
        """This plan with that deployment tried first (the one whose bulkhead admitted the request)."""
        first = [d for d in self.candidates if d.id == deployment_id]
        return replace(self, candidates=first + [d for d in self.candidates if d.id != deployment_id])

    def without_models(self, models: set[str]) -> RoutePlan:
        """This plan without the deployments of these models (fallbacks that may not serve)."""
        return replace(self, candidates=[d for d in self.candidates if d.model not in models])


class Scorer(Protocol):
    def score(self, chat_body: Mapping[str, Any]) -> float: ...


def allowed(principal: Principal, deployment: Deployment) -> bool:
    tenant = principal.tenant
    if deployment.region not in tenant.residency:
        return False
    if tenant.isolation == "dedicated":
        return deployment.pool == "dedicated" and deployment.tenant == tenant.id
    return deployment.pool == "shared"


def order(strategy: str, deployments: list[Deployment], health: Health) -> list[Deployment]:
    if strategy == "weighted":
        # a weighted random permutation: each deployment is first with probability weight / total
        return sorted(deployments, key=lambda d: random.random() ** (1.0 / d.weight), reverse=True)
    if strategy == "lowest_latency":
        return sorted(deployments, key=lambda d: (health.latency(d.id), health.busy(d.id)))
    if strategy == "lowest_cost":
        return sorted(deployments, key=lambda d: (d.input_cost_per_mtok + d.output_cost_per_mtok, health.busy(d.id)))
    return sorted(deployments, key=lambda d: health.busy(d.id) / d.weight)


def _choose(
    alias: Alias, tenant: Tenant, body: Mapping[str, Any], scorer: Scorer
) -> tuple[str, float, str, float]:
    """Complexity routing: the weak or the strong model, by the request's score against the threshold."""
    score = scorer.score(body)
    threshold = tenant.routing_threshold if tenant.routing_threshold is not None else alias.threshold
    choice = "strong" if score >= threshold else "weak"
    return (alias.strong if choice == "strong" else alias.weak) or alias.target, score, choice, threshold


def plan_route(
    catalog: Catalog,
    principal: Principal,
    requested: str,
    kind: str,
    health: Health,
    body: Mapping[str, Any] | None = None,
    scorer: Scorer | None = None,
) -> RoutePlan:
    model = catalog.resolve_model(requested)
    if model is None:
        raise NotFound(f"The model '{requested}' does not exist", code="model_not_found", param="model")
    if not (principal.may_use(requested) or principal.may_use(model.name)):
        raise PermissionDenied(f"this key may not use the model '{requested}'", code="model_not_allowed")
    if model.kind != kind:
        raise BadRequest(f"the model '{requested}' is a {model.kind} model", code="wrong_model_kind", param="model")
    alias = catalog.aliases.get(requested)
    strategy = alias.strategy if alias and alias.strategy else model.strategy
    fallbacks = list(alias.fallbacks) if alias else []
    score = choice = threshold = None
    if alias is not None and alias.router == "complexity" and body is not None and scorer is not None:
        chosen, score, choice, threshold = _choose(alias, principal.tenant, body, scorer)
        model = catalog.models[chosen]
        other = alias.weak if chosen == alias.strong else alias.strong
        if other and other not in fallbacks:
            fallbacks.append(other)  # the other model stands in when the chosen one is down
    chain = [model.name, *(f for f in fallbacks if f != model.name)]
    permitted_any = False
    candidates: list[Deployment] = []
    for name in chain:
        permitted = [d for d in catalog.deployments_of(name) if allowed(principal, d) and d.weight > 0]
        permitted_any = permitted_any or bool(permitted)
        healthy = [d for d in permitted if health.available(d.id)]
        candidates += order(strategy if name == model.name else catalog.models[name].strategy, healthy, health)
    if not permitted_any:
        raise PermissionDenied(
            f"no deployment of '{model.name}' is allowed for this tenant "
            f"(regions {', '.join(principal.tenant.residency)}, {principal.tenant.isolation} pool)",
            code="no_permitted_deployment",
        )
    if not candidates:
        raise ServiceUnavailable(
            f"every permitted deployment of '{model.name}' is unavailable; retry shortly",
            headers={"retry-after": "5"},
        )
    return RoutePlan(model, candidates, [catalog.models[name] for name in chain], score, choice, threshold)

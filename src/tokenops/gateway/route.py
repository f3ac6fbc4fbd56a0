"""Route: the deployments that may serve a request — hard constraints first, then the least busy.

Residency, pool and tenant isolation are never relaxed: if no deployment satisfies
them the request is refused (403), and if those that do are all down, 503.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenops.catalog import Catalog, Deployment, Model
from tokenops.errors import BadRequest, NotFound, PermissionDenied, ServiceUnavailable
from tokenops.gateway.auth import Principal
from tokenops.health import Health


@dataclass(slots=True)
class RoutePlan:
    model: Model
    candidates: list[Deployment]


def allowed(principal: Principal, deployment: Deployment) -> bool:
    tenant = principal.tenant
    if deployment.region not in tenant.residency:
        return False
    if tenant.isolation == "dedicated":
        return deployment.pool == "dedicated" and deployment.tenant == tenant.id
    return deployment.pool == "shared"


def plan_route(catalog: Catalog, principal: Principal, requested: str, kind: str, health: Health) -> RoutePlan:
    model = catalog.resolve_model(requested)
    if model is None:
        raise NotFound(f"The model '{requested}' does not exist", code="model_not_found", param="model")
    if not (principal.may_use(requested) or principal.may_use(model.name)):
        raise PermissionDenied(f"this key may not use the model '{requested}'", code="model_not_allowed")
    if model.kind != kind:
        raise BadRequest(f"the model '{requested}' is a {model.kind} model", code="wrong_model_kind", param="model")
    permitted = [d for d in catalog.deployments_of(model.name) if allowed(principal, d) and d.weight > 0]
    if not permitted:
        raise PermissionDenied(
            f"no deployment of '{model.name}' is allowed for this tenant "
            f"(regions {', '.join(principal.tenant.residency)}, {principal.tenant.isolation} pool)",
            code="no_permitted_deployment",
        )
    healthy = [d for d in permitted if health.available(d.id)]
    if not healthy:
        raise ServiceUnavailable(
            f"every permitted deployment of '{model.name}' is unavailable; retry shortly",
            headers={"retry-after": "5"},
        )
    healthy.sort(key=lambda d: health.busy(d.id) / d.weight)
    return RoutePlan(model, healthy)

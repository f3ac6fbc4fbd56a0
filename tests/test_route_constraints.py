"""Hard routing constraints hold always — under failures and fallbacks — and strategies order the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.catalog import ApiKey, parse_catalog
from tokenops.catalog.model import Catalog
from tokenops.errors import PermissionDenied
from tokenops.gateway.auth import Principal
from tokenops.gateway.route import order, plan_route
from tokenops.health import Health

MESSAGES = [{"role": "user", "content": "status"}]


def post(gw: Gateway, key: str, model: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )


def catalog_with(**faults: dict[str, Any]) -> dict[str, Any]:
    data = demo_catalog()
    data["aliases"].append({"name": "resilient-lite", "target": "tele-lite", "fallbacks": ["tele-max"]})
    data["aliases"].append({"name": "gov-resilient", "target": "grid-fault-expert", "fallbacks": ["tele-lite"]})
    data["tenants"][0]["models"].append("resilient-lite")
    data["tenants"][1]["models"].append("gov-resilient")
    for dep in data["deployments"]:
        if dep["id"] in faults:
            dep["simulate"] = faults[dep["id"]]
    return data


DOWN = {"error_rate": 1.0, "error_status": 500}


def test_dedicated_tenant_is_never_served_elsewhere_when_its_only_deployment_is_down(tmp_path: Path) -> None:
    gw = start_gateway(catalog_with(**{"gov-lite-north-1": DOWN}), tmp_path / "home")
    try:
        statuses = [post(gw, "sk-demo-gov", "tele-lite").status_code for _ in range(7)]
        assert statuses[:5] == [502] * 5  # each failure is reported, not rerouted to the shared pool
        last = post(gw, "sk-demo-gov", "tele-lite")
        assert last.status_code == 503 and last.headers["retry-after"]  # circuit open: no healthy deployment
        assert {r["deployment_id"] for r in gw.records()} <= {"gov-lite-north-1", None}
    finally:
        gw.server.stop()


def test_fallback_model_stays_inside_the_tenants_region_and_pool(tmp_path: Path) -> None:
    gw = start_gateway(catalog_with(**{"gov-grid-north-1": DOWN}), tmp_path / "home")
    try:
        response = post(gw, "sk-demo-gov", "gov-resilient")
        assert response.status_code == 200
        assert response.headers["x-tokenops-deployment"] == "gov-lite-north-1"
        assert response.headers["x-tokenops-region"] == "cn-north"
        [record] = gw.records()
        assert record["deployment_id"] == "gov-lite-north-1" and record["model_served"] == "tele-lite"
    finally:
        gw.server.stop()


def test_fallback_chain_moves_to_the_next_model_when_every_deployment_fails(tmp_path: Path) -> None:
    gw = start_gateway(catalog_with(**{"lite-east-1": DOWN, "lite-north-1": DOWN}), tmp_path / "home")
    try:
        response = post(gw, "sk-demo-acme", "resilient-lite")
        assert response.status_code == 200 and response.headers["x-tokenops-model"] == "tele-max"
        assert post(gw, "sk-demo-acme", "tele-lite").status_code == 502  # no fallback without the alias
    finally:
        gw.server.stop()


def _catalog() -> Catalog:
    spec = parse_catalog(catalog_with())
    return Catalog(spec.tenants, {}, spec.models, spec.deployments, spec.aliases)


def _principal(catalog: Catalog, tenant: str) -> Principal:
    return Principal(catalog.tenants[tenant], ApiKey("k", tenant, "h", "p"))


def test_no_deployment_in_the_tenants_region_is_a_403_not_a_silent_fallback() -> None:
    data = catalog_with()
    data["tenants"][1]["models"].append("tele-max")  # tele-max runs only on the shared pool
    spec = parse_catalog(data)
    catalog = Catalog(spec.tenants, {}, spec.models, spec.deployments, spec.aliases)
    with pytest.raises(PermissionDenied) as caught:
        plan_route(catalog, _principal(catalog, "cn-gov-energy"), "tele-max", "chat", Health())
    assert caught.value.code == "no_permitted_deployment"


def test_strategies_order_the_permitted_deployments() -> None:
    catalog = _catalog()
    lite = [catalog.deployments["lite-east-1"], catalog.deployments["lite-north-1"]]
    health = Health()
    health.success("lite-east-1", 80.0)
    health.success("lite-north-1", 20.0)
    assert [d.id for d in order("lowest_latency", lite, health)] == ["lite-north-1", "lite-east-1"]
    health.enter("lite-north-1")
    assert [d.id for d in order("least_busy", lite, health)] == ["lite-east-1", "lite-north-1"]
    mixed = [catalog.deployments["max-north-1"], catalog.deployments["lite-east-1"]]
    assert [d.id for d in order("lowest_cost", mixed, health)] == ["lite-east-1", "max-north-1"]
    firsts = {order("weighted", lite, health)[0].id for _ in range(200)}
    assert firsts == {"lite-east-1", "lite-north-1"}
    plan = plan_route(catalog, _principal(catalog, "acme-manufacturing"), "resilient-lite", "chat", health)
    assert [m.name for m in plan.chain] == ["tele-lite", "tele-max"]
    assert [d.model for d in plan.candidates] == ["tele-lite", "tele-lite", "tele-max"]

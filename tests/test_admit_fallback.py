"""A request that may fall back to a dearer model is reserved at the dearer model's price."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.gateway.admit import _dearest
from tokenops.gateway.auth import Principal
from tokenops.gateway.route import plan_route
from tokenops.store import UsageRecord


def _acme(gw: Gateway, request_id: str) -> tuple[Principal, UsageRecord]:
    """Acme's principal and a fresh usage record of its, as the request path would have them."""
    key = next(k for k in gw.state.catalog.keys.values() if k.tenant_id == "acme-manufacturing")
    principal = Principal(gw.state.catalog.tenants["acme-manufacturing"], key)
    return principal, UsageRecord(request_id, int(time.time() * 1000), "acme-manufacturing", key.id, "chat", "x",
                                  200, "ok")  # fmt: skip


def test_reservation_covers_the_dearest_model_of_the_fallback_chain(tmp_path: Path) -> None:
    catalog = demo_catalog()
    catalog["aliases"].append({"name": "lite-or-max", "target": "tele-lite", "fallbacks": ["tele-max"]})
    catalog["tenants"][0]["models"].append("lite-or-max")
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        state = gw.state
        principal, record = _acme(gw, "req_t")
        credit = state.charging.credit
        chained = plan_route(state.catalog, principal, "lite-or-max", "chat", state.health)
        single = plan_route(state.catalog, principal, "tele-lite", "chat", state.health)
        assert _dearest(credit, principal, record, chained, 1000, 4096) == ("tele-max", chained)
        assert _dearest(credit, principal, record, single, 1000, 4096) == ("tele-lite", single)
    finally:
        gw.server.stop()


def test_a_fallback_without_a_price_leaves_the_plan_admission_returns_and_not_the_one_it_was_given(
    tmp_path: Path,
) -> None:
    catalog = demo_catalog()
    lite = next(m for m in catalog["models"] if m["name"] == "tele-lite")
    catalog["models"].append({**lite, "name": "tele-unpriced"})
    dep = next(d for d in catalog["deployments"] if d["model"] == "tele-lite" and not d.get("tenant"))
    catalog["deployments"].append({**dep, "id": "unpriced-1", "model": "tele-unpriced"})
    catalog["aliases"].append({"name": "max-or-unpriced", "target": "tele-max", "fallbacks": ["tele-unpriced"]})
    catalog["tenants"][0]["models"] += ["max-or-unpriced", "tele-unpriced"]
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        state = gw.state
        principal, record = _acme(gw, "req_u")
        plan = plan_route(state.catalog, principal, "max-or-unpriced", "chat", state.health)
        assert "unpriced-1" in [d.id for d in plan.candidates]
        model, priced = _dearest(state.charging.credit, principal, record, plan, 1000, 4096)
        assert model == "tele-max" and "unpriced-1" not in [d.id for d in priced.candidates]
        assert "unpriced-1" in [d.id for d in plan.candidates], "the plan it was given is left as it was"
    finally:
        gw.server.stop()

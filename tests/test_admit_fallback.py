"""A request that may fall back to a dearer model is reserved at the dearer model's price."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import demo_catalog, start_gateway
from tokenops.gateway.admit import _dearest
from tokenops.gateway.auth import Principal
from tokenops.gateway.route import plan_route
from tokenops.store import UsageRecord


def test_reservation_covers_the_dearest_model_of_the_fallback_chain(tmp_path: Path) -> None:
    catalog = demo_catalog()
    catalog["aliases"].append({"name": "lite-or-max", "target": "tele-lite", "fallbacks": ["tele-max"]})
    catalog["tenants"][0]["models"].append("lite-or-max")
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        state = gw.state
        key = next(k for k in state.catalog.keys.values() if k.tenant_id == "acme-manufacturing")
        principal = Principal(state.catalog.tenants["acme-manufacturing"], key)
        record = UsageRecord("req_t", int(time.time() * 1000), "acme-manufacturing", key.id, "chat", "x", 200, "ok")
        credit = state.charging.credit
        chained = plan_route(state.catalog, principal, "lite-or-max", "chat", state.health)
        single = plan_route(state.catalog, principal, "tele-lite", "chat", state.health)
        assert _dearest(credit, principal, record, chained, 1000, 4096) == "tele-max"
        assert _dearest(credit, principal, record, single, 1000, 4096) == "tele-lite"
    finally:
        gw.server.stop()

"""Helpers for the plan tests: plans in the demo catalog, a service on a clock the test moves, a request charged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import demo_catalog
from tests.scaleout_support import Backend
from tokenops.catalog import parse_catalog
from tokenops.charging.catalog import parse_charging
from tokenops.charging.ledger import Entry
from tokenops.charging.prices import Tokens
from tokenops.charging.service import ChargingService
from tokenops.clock import Clock
from tokenops.store import UsageRecord

PLANS: list[dict[str, Any]] = [
    {"id": "lite-starter", "name": "Starter", "price": "300.00",
     "allowances": [{"models": ["tele-lite"], "tokens": 3_000_000, "overage": {"input": "0.40", "output": "0.80"}}]},
    {"id": "lite-pro", "name": "Pro", "price": "900.00", "rollover": {"percent": 50},
     "allowances": [{"models": ["tele-lite"], "tokens": 12_000_000},
                    {"models": ["tele-embed"], "tokens": 2_000_000, "overage": "stop"}]},
]  # fmt: skip


def plan_catalog(**extra_account: Any) -> dict[str, Any]:
    data = demo_catalog()
    data["plans"] = [dict(p) for p in PLANS]
    for account in data["accounts"]:
        if account["tenant"] == "ringback-app":
            account.update(extra_account)
    return data


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class Moment:
    """A wall clock the test sets."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


async def plan_service(backend: Backend, moment: Moment, catalog: dict[str, Any] | None = None) -> ChargingService:
    store = backend.store()
    await store.open()
    service = ChargingService(backend.ledger(store), clock=Clock(moment))
    await service.start(parse_charging(parse_catalog(catalog or plan_catalog())))
    service.sectors = {"ringback-app": "retail", "acme-manufacturing": "manufacturing", "cn-gov-energy": "energy"}
    return service


async def serve(
    service: ChargingService, request_id: str, model: str, prompt: int, output: int, started_ms: int,
    tenant: str = "ringback-app", key: str = "ringback-default",
) -> tuple[UsageRecord, Entry | None]:  # fmt: skip
    """One request reserved, served (`prompt` in, `output` out), recorded and charged, as the gateway would."""
    hold = service.credit.reserve(request_id, tenant, "retail", key, None, model, prompt, output, started_ms,
                                  min_output=min(1, output))
    assert hold is not None and hold.output == output
    record = UsageRecord(request_id, started_ms, tenant, key, "chat.completions", model, 200, "ok",
                         model_served=model)  # fmt: skip
    record.input_tokens, record.output_tokens = prompt, output
    entry = service.credit.settle(hold, Tokens.of(record), started_ms + 1000)
    await service.store.settle([record], [entry] if entry else [], [], [])
    return record, entry

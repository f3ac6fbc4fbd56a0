"""Admin endpoint for the usage export: each sink's position and lag (operators only)."""

from __future__ import annotations

from typing import Any

from tokenops.admin.http import Call
from tokenops.export import outbox_for
from tokenops.export.report import status_doc
from tokenops.gateway.state import AppState
from tokenops.telemetry.prom import gauge


async def export_status(call: Call) -> Any:
    call.actor.require_operator()
    found = await outbox_for(call.state.store).status()
    return status_doc(found, call.state.clock.now_ms())


async def export_gauges(state: AppState) -> str:
    """The export's lag for /metrics (one small query at scrape time), per sink."""
    found = status_doc(await outbox_for(state.store).status(), state.clock.now_ms())["sinks"]
    events = [((s["sink"],), float(s["lag_events"])) for s in found]
    seconds = [((s["sink"],), float(s["lag_seconds"])) for s in found]
    return gauge("tokenops_export_lag_events", "Usage records and ledger entries not yet published, per sink.",
                 ("sink",), events) + gauge(
        "tokenops_export_lag_seconds", "Age of the oldest event not yet published, per sink.", ("sink",), seconds
    )  # fmt: skip

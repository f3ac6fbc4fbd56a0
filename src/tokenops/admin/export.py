"""Admin endpoint for the usage export: each sink's position and lag (operators only)."""

from __future__ import annotations

from typing import Any

from tokenops.admin.http import Call
from tokenops.export import outbox_for
from tokenops.export.report import status_doc


async def export_status(call: Call) -> Any:
    call.actor.require_operator()
    found = await outbox_for(call.state.store).status()
    return status_doc(found, call.state.clock.now_ms())

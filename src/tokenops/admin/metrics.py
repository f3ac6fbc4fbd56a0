"""GET /metrics for operators only: the exposition names tenants, their traffic and their money."""

from __future__ import annotations

from tokenops.admin.auth import admin_actor
from tokenops.admin.export import export_gauges
from tokenops.asgi import Request, send_bytes
from tokenops.gateway.state import AppState

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"  # Prometheus's text exposition


async def metrics(req: Request, state: AppState) -> None:
    """Prometheus scrapes with an operator admin token (`authorization: {credentials: …}` in its job)."""
    actor = await admin_actor(req, state)
    actor.require_operator()
    text = state.telemetry.metrics.render(state if state.ready else None)
    if state.ready:
        text += await export_gauges(state)
    await send_bytes(req, 200, text.encode(), CONTENT_TYPE)

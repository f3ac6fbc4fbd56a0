"""GET /metrics for operators only: the exposition names tenants, their traffic and their money."""

from __future__ import annotations

from tokenops.admin.auth import admin_actor
from tokenops.gateway.asgi import Request
from tokenops.gateway.state import AppState
from tokenops.telemetry import http


async def metrics(req: Request, state: AppState) -> None:
    """Prometheus scrapes with an operator admin token (`authorization: {credentials: …}` in its job)."""
    actor = await admin_actor(req, state)
    actor.require_operator()
    await http.metrics(req, state)

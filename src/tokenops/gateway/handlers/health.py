"""Liveness and readiness."""

from __future__ import annotations

import orjson

from tokenops.asgi import Request
from tokenops.gateway.state import AppState


async def healthz(req: Request, state: AppState) -> None:
    await req.respond(200, b'{"status":"ok"}')


async def readyz(req: Request, state: AppState) -> None:
    ready = state.ready and not state.draining
    body = {"status": "ready" if ready else "not_ready", "deployments": len(state.providers)}
    await req.respond(200 if ready else 503, orjson.dumps(body))

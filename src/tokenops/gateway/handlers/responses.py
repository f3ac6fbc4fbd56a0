"""POST /v1/responses."""

from __future__ import annotations

from tokenops.asgi import Request
from tokenops.gateway.apis.responses import RESPONSES
from tokenops.gateway.pipeline import serve_chat
from tokenops.gateway.state import AppState


async def responses(req: Request, state: AppState) -> None:
    await serve_chat(req, state, RESPONSES)

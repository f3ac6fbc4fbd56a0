"""POST /v1/chat/completions."""

from __future__ import annotations

from tokenops.asgi import Request
from tokenops.gateway.apis.openai_chat import CHAT_COMPLETIONS
from tokenops.gateway.pipeline import serve_chat
from tokenops.gateway.state import AppState


async def chat_completions(req: Request, state: AppState) -> None:
    await serve_chat(req, state, CHAT_COMPLETIONS)

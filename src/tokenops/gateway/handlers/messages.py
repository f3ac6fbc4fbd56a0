"""POST /v1/messages and /v1/messages/count_tokens (also under /anthropic)."""

from __future__ import annotations

import orjson

from tokenops.asgi import Request
from tokenops.errors import NotFound, PermissionDenied, TokenopsError
from tokenops.gateway.apis.messages import MESSAGES, parse_messages
from tokenops.gateway.auth import authenticate
from tokenops.gateway.pipeline import serve_chat
from tokenops.gateway.records import fail, finish, open_record
from tokenops.gateway.state import AppState
from tokenops.tokenize import count_messages


async def messages(req: Request, state: AppState) -> None:
    await serve_chat(req, state, MESSAGES)


async def count_tokens(req: Request, state: AppState) -> None:
    """The prompt's tokens by the model's own counter; recorded (nothing billed) like every keyed request."""
    now_ms = state.clock.now_ms()
    principal = authenticate(state.catalog, state.hasher, req.headers, now_ms)
    record = open_record(req, principal, "messages.count_tokens", now_ms)
    try:
        chat = parse_messages(await req.body(state.settings.body_limit), count_only=True)
        record.model_requested = chat.model
        model = state.catalog.resolve_model(chat.model)
        if model is None:
            raise NotFound(f"The model '{chat.model}' does not exist", code="model_not_found", param="model")
        if not (principal.may_use(chat.model) or principal.may_use(model.name)):
            raise PermissionDenied(f"this key may not use the model '{chat.model}'", code="model_not_allowed")
        tokens = count_messages(state.counter(model.name), chat.body["messages"], chat.body.get("tools"))
    except TokenopsError as err:
        fail(record, err)
        finish(req, record)
        await state.sink.record(record)
        raise
    record.usage_source = "none"
    finish(req, record)
    await state.sink.record(record)
    await req.respond(200, orjson.dumps({"input_tokens": tokens}))

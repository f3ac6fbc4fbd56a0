"""GET /v1/models: only what the calling key may use."""

from __future__ import annotations

import orjson

from tokenops.asgi import Request
from tokenops.errors import NotFound
from tokenops.gateway.auth import Principal, authenticate
from tokenops.gateway.records import fail, finish, open_record
from tokenops.gateway.state import AppState

_CREATED = 1_767_225_600  # 2026-01-01: a fixed date, so the listing is stable


def _visible(state: AppState, principal: Principal) -> list[str]:
    names = principal.key.models or principal.tenant.models
    return [n for n in names if state.catalog.resolve_model(n) is not None]


def _entry(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "tokenops"}


async def list_models(req: Request, state: AppState) -> None:
    principal = authenticate(state.catalog, state.hasher, req.headers, state.clock.now_ms())
    record = open_record(req, principal, "models", state.clock.now_ms())
    data = [_entry(n) for n in _visible(state, principal)]
    finish(req, record)
    await state.sink.record(record)
    await req.respond(200, orjson.dumps({"object": "list", "data": data}))


async def get_model(req: Request, state: AppState) -> None:
    principal = authenticate(state.catalog, state.hasher, req.headers, state.clock.now_ms())
    record = open_record(req, principal, "models", state.clock.now_ms())
    name = req.path.removeprefix("/v1/models/")
    record.model_requested = name
    finish(req, record)
    if name not in _visible(state, principal):
        err = NotFound(f"The model '{name}' does not exist", code="model_not_found", param="model")
        fail(record, err)
        await state.sink.record(record)
        raise err
    await state.sink.record(record)
    await req.respond(200, orjson.dumps(_entry(name)))

"""The request path shared by every client API: authenticate, parse, route, forward, meter, settle.

Each client API (Chat Completions, Responses, Messages) supplies only its parser,
renderer and stream encoder; the steps and the usage record are the same for all.
"""

from __future__ import annotations

from tokenops.catalog import Deployment
from tokenops.errors import TokenopsError
from tokenops.gateway import forward, meter
from tokenops.gateway.apis import ClientAPI
from tokenops.gateway.asgi import Request
from tokenops.gateway.auth import authenticate
from tokenops.gateway.parse import ChatRequest
from tokenops.gateway.records import add_usage, fail, finish, open_record
from tokenops.gateway.relay import relay
from tokenops.gateway.route import RoutePlan, plan_route
from tokenops.gateway.state import AppState
from tokenops.store import UsageRecord


async def serve_chat(req: Request, state: AppState, api: ClientAPI) -> None:
    principal = authenticate(state.catalog, state.hasher, req.headers)
    record = open_record(req, principal, api.name)
    try:
        chat = api.parse(await req.body(state.settings.body_limit))
        record.model_requested = chat.model
        record.stream = chat.stream
        record.end_user = chat.end_user or record.end_user
        plan = plan_route(state.catalog, principal, chat.model, "chat", state.health)
        if chat.stream:
            await _stream(req, state, api, chat, plan, record)
        else:
            await _complete(req, state, api, chat, plan, record)
    except TokenopsError as err:
        if req.response_started:
            raise
        fail(record, err)
        finish(req, record)
        await state.sink.record(record)
        raise


def _served(req: Request, record: UsageRecord, deployment: Deployment) -> None:
    """Name what served the request: a fallback may be another model than the one planned."""
    record.model_served = deployment.model
    record.deployment_id = deployment.id
    record.region = deployment.region
    req.response_headers += [
        (b"x-tokenops-model", deployment.model.encode()),
        (b"x-tokenops-deployment", deployment.id.encode()),
        (b"x-tokenops-region", deployment.region.encode()),
    ]


async def _complete(
    req: Request, state: AppState, api: ClientAPI, chat: ChatRequest, plan: RoutePlan, record: UsageRecord
) -> None:
    deployment, result = await forward.chat(state, plan, chat.body)
    _served(req, record, deployment)
    usage = meter.completion_usage(result.usage, state.counter(deployment.model), chat.body, result.body)
    payload = api.render(result.body, usage, chat)
    add_usage(record, usage)
    finish(req, record)
    await state.sink.record(record)
    await req.respond(200, payload)


async def _stream(
    req: Request, state: AppState, api: ClientAPI, chat: ChatRequest, plan: RoutePlan, record: UsageRecord
) -> None:
    deployment, stream = await forward.chat_stream(state, plan, chat.body)
    encoder = api.encoder(chat, deployment.upstream_model)
    try:
        _served(req, record, deployment)
        outcome = await relay(req, stream, encoder)
    finally:
        state.health.leave(deployment.id)
    usage = meter.stream_usage(stream.usage, state.counter(deployment.model), chat.body, stream.chunks)
    add_usage(record, usage)
    record.ttft_ms = round(outcome.ttft_ms, 3) if outcome.ttft_ms is not None else None
    record.outcome = outcome.outcome
    if outcome.error is not None:
        fail(record, outcome.error)
        state.health.failure(deployment.id)
    finish(req, record)
    await state.sink.record(record)
    await req.end(b"" if outcome.client_gone else encoder.finish(usage))

"""POST /v1/chat/completions: authenticate, parse, route, forward, meter, settle."""

from __future__ import annotations

import orjson

from tokenops.errors import TokenopsError
from tokenops.gateway import forward, meter
from tokenops.gateway.asgi import Request
from tokenops.gateway.auth import authenticate
from tokenops.gateway.handlers.common import add_usage, fail, finish, open_record
from tokenops.gateway.parse import ChatRequest, parse_chat
from tokenops.gateway.relay import relay
from tokenops.gateway.route import RoutePlan, plan_route
from tokenops.gateway.state import AppState
from tokenops.store import UsageRecord


async def chat_completions(req: Request, state: AppState) -> None:
    principal = authenticate(state.catalog, state.hasher, req.headers)
    record = open_record(req, principal, "chat.completions")
    try:
        chat = parse_chat(await req.body(state.settings.body_limit))
        record.model_requested = chat.model
        record.stream = chat.stream
        record.end_user = chat.end_user or record.end_user
        plan = plan_route(state.catalog, principal, chat.model, "chat", state.health)
        if chat.stream:
            await _stream(req, state, chat, plan, record)
        else:
            await _complete(req, state, chat, plan, record)
    except TokenopsError as err:
        if req.response_started:
            raise
        fail(record, err)
        finish(req, record)
        await state.sink.record(record)
        raise


def _served(req: Request, record: UsageRecord, plan: RoutePlan, deployment_id: str, region: str) -> None:
    record.model_served = plan.model.name
    record.deployment_id = deployment_id
    record.region = region
    req.response_headers += [
        (b"x-tokenops-model", plan.model.name.encode()),
        (b"x-tokenops-deployment", deployment_id.encode()),
        (b"x-tokenops-region", region.encode()),
    ]


async def _complete(req: Request, state: AppState, chat: ChatRequest, plan: RoutePlan, record: UsageRecord) -> None:
    deployment, result = await forward.chat(state, plan, chat.body)
    _served(req, record, plan, deployment.id, deployment.region)
    body = result.body
    usage = meter.completion_usage(result.usage, state.counter(plan.model.name), chat.body, body)
    body["model"] = chat.model
    if result.usage is None:
        body["usage"] = usage.to_openai()
    add_usage(record, usage)
    finish(req, record)
    payload = orjson.dumps(body)
    await state.sink.record(record)
    await req.respond(200, payload)


async def _stream(req: Request, state: AppState, chat: ChatRequest, plan: RoutePlan, record: UsageRecord) -> None:
    deployment, stream = await forward.chat_stream(state, plan, chat.body)
    try:
        _served(req, record, plan, deployment.id, deployment.region)
        outcome = await relay(req, stream, deployment.upstream_model, chat.model)
    finally:
        state.health.leave(deployment.id)
    usage = meter.stream_usage(stream.usage, state.counter(plan.model.name), chat.body, stream.chunks)
    add_usage(record, usage)
    record.ttft_ms = round(outcome.ttft_ms, 3) if outcome.ttft_ms is not None else None
    record.outcome = outcome.outcome
    if outcome.error is not None:
        fail(record, outcome.error)
        state.health.failure(deployment.id)
    alive = outcome.outcome != "client_aborted"
    if alive and chat.include_usage:
        await req.write(_usage_chunk(outcome.chunk_id, outcome.created, chat.model, usage.to_openai()))
    finish(req, record)
    await state.sink.record(record)
    await req.end(b"data: [DONE]\n\n" if alive else b"")


def _usage_chunk(chunk_id: bytes, created: bytes, model: str, usage: dict[str, object]) -> bytes:
    return (
        b'data: {"id":"'
        + chunk_id
        + b'","object":"chat.completion.chunk","created":'
        + created
        + b',"model":'
        + orjson.dumps(model)
        + b',"choices":[],"usage":'
        + orjson.dumps(usage)
        + b"}\n\n"
    )

"""POST /v1/embeddings: the same path as chat, without streaming."""

from __future__ import annotations

import orjson

from tokenops.charging.credit import Hold
from tokenops.errors import TokenopsError
from tokenops.gateway import forward
from tokenops.gateway.admit import admit_embedding
from tokenops.gateway.asgi import Request
from tokenops.gateway.auth import authenticate
from tokenops.gateway.parse import parse_embeddings
from tokenops.gateway.records import add_usage, fail, finish, open_record
from tokenops.gateway.route import plan_route
from tokenops.gateway.settle import settle
from tokenops.gateway.state import AppState
from tokenops.providers import Usage


async def embeddings(req: Request, state: AppState) -> None:
    now_ms = state.clock.now_ms()
    principal = authenticate(state.catalog, state.hasher, req.headers, now_ms)
    record = open_record(req, principal, "embeddings", now_ms)
    hold: Hold | None = None
    try:
        request = parse_embeddings(await req.body(state.settings.body_limit))
        record.model_requested = request.model
        record.end_user = request.end_user or record.end_user
        plan = plan_route(state.catalog, principal, request.model, "embedding", state.health)
        hold = admit_embedding(state.charging.credit, principal, record, plan.model.name, request.inputs)
        deployment, result = await forward.embed(state, plan, request.body)
    except TokenopsError as err:
        fail(record, err)
        finish(req, record)
        await settle(state.sink, state.charging.credit, record, hold)
        raise
    except BaseException:
        if hold is not None and hold.open:
            state.charging.credit.release(hold)
        raise
    record.model_served = plan.model.name
    record.deployment_id = deployment.id
    record.region = deployment.region
    usage = result.usage
    if usage is None:
        counter = state.counter(plan.model.name)
        tokens = sum(counter.count(text) for text in request.inputs)
        usage = Usage(tokens, 0, source="tokenizer" if counter.exact else "estimate")
        result.body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    result.body["model"] = request.model
    add_usage(record, usage)
    finish(req, record)
    payload = orjson.dumps(result.body)
    await settle(state.sink, state.charging.credit, record, hold, usage)
    await req.respond(200, payload, [(b"x-tokenops-deployment", deployment.id.encode())])

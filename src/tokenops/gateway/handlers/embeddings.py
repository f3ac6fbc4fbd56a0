"""POST /v1/embeddings: the one request path (authenticate, parse, route, limit, admit, forward, meter, settle),
without streaming."""

from __future__ import annotations

import orjson

from tokenops.asgi import Request
from tokenops.gateway import forward, limit
from tokenops.gateway.admit import admit_embedding_leased
from tokenops.gateway.parse import parse_embeddings
from tokenops.gateway.pipeline import Flow, admitted, costed, serve, served
from tokenops.gateway.records import add_usage, finish
from tokenops.gateway.route import plan_route
from tokenops.gateway.settle import settle
from tokenops.gateway.state import AppState
from tokenops.usage import Usage


async def embeddings(req: Request, state: AppState) -> None:
    await serve(req, state, "embeddings", _embed)


async def _embed(flow: Flow) -> None:
    req, state, principal, record = flow.req, flow.state, flow.principal, flow.record
    request = parse_embeddings(flow.raw)
    record.model_requested = request.model
    record.end_user = request.end_user or record.end_user
    plan = plan_route(state.catalog, principal, request.model, "embedding", state.health)
    plan, admission = await admitted(flow, limit.inputs_prompt(request.inputs), plan, lambda p: admit_embedding_leased(
        state.charging.credit, principal, record, p.model.name, request.inputs))  # fmt: skip
    deployment, result = await forward.embed(state, plan, request.body)
    served(req, record, deployment)
    usage = result.usage
    if usage is None:
        counter = state.counter(plan.model.name)
        tokens = sum(counter.count(text) for text in request.inputs)
        usage = Usage(tokens, 0, source="tokenizer" if counter.exact else "estimate")
        result.body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    result.body["model"] = request.model
    add_usage(record, usage)
    finish(req, record)
    charge = await settle(state.sink, state.charging.credit, record, admission.hold, usage)
    if admission.hold is not None:
        costed(req, charge)
    await req.respond(200, orjson.dumps(result.body))

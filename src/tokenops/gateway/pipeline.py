"""The request path shared by every client endpoint: authenticate, parse, route, limit, admit, forward, meter,
settle.

`serve` and `admitted` are the same for every endpoint (the usage record, limits, credit
control, the reservation on record). Each chat API (Chat Completions, Responses, Messages)
supplies only its parser, renderer and stream encoder; embeddings supply their own
forward and meter steps (`handlers/embeddings.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tokenops.asgi import Request
from tokenops.catalog import Deployment
from tokenops.charging.credit import Hold
from tokenops.charging.interim import interim_doc
from tokenops.charging.ledger import Entry
from tokenops.charging.money import format_exact
from tokenops.errors import TokenopsError
from tokenops.gateway import forward, limit, meter, quota
from tokenops.gateway.admit import Admission, GrantedStream, admit_chat_leased, length_chunk
from tokenops.gateway.apis import ClientAPI, StreamEncoder
from tokenops.gateway.auth import Principal, authenticate
from tokenops.gateway.parse import ChatRequest
from tokenops.gateway.records import add_usage, fail, finish, open_record
from tokenops.gateway.relay import relay
from tokenops.gateway.route import RoutePlan, plan_route
from tokenops.gateway.settle import settle
from tokenops.gateway.state import AppState
from tokenops.providers import ChatStream, Usage
from tokenops.security.prompt import Prompt
from tokenops.store import UsageRecord

log = logging.getLogger("tokenops.gateway")


@dataclass(slots=True)
class Flow:
    """One request on its way through the steps: who asked, its usage record, its body, its reservation."""

    req: Request
    state: AppState
    principal: Principal
    record: UsageRecord
    raw: bytes = b""
    hold: Hold | None = None


Steps = Callable[[Flow], Awaitable[None]]


async def serve(req: Request, state: AppState, api_name: str, steps: Steps) -> None:
    """Authenticate, read the body, run the endpoint's steps; whatever fails after authentication leaves its
    usage record and settles its reservation, for every endpoint alike."""
    now_ms = state.clock.now_ms()
    principal = authenticate(state.catalog, state.hasher, req.headers, now_ms)
    flow = Flow(req, state, principal, open_record(req, principal, api_name, now_ms))
    try:
        flow.raw = await req.body(state.settings.body_limit)
        await steps(flow)
    except Exception as exc:
        if req.response_started:
            if not isinstance(exc, TokenopsError):
                _release_unmetered(state, flow.hold)
            raise
        err = exc if isinstance(exc, TokenopsError) else _unexpected(req, exc)
        fail(flow.record, err)  # an unexpected failure too leaves its record: no request vanishes from the books
        finish(req, flow.record)
        await settle(state.sink, state.charging.credit, flow.record, flow.hold)
        if err is exc:
            raise
        raise err from exc
    except BaseException:
        _release_unmetered(state, flow.hold)  # cancelled before it was metered: the sweeper finds no record
        raise


async def admitted(
    flow: Flow, prompt: tuple[int, Prompt], plan: RoutePlan, admit: Callable[[RoutePlan], Awaitable[Admission]],
    output: tuple[str, int] | None = None,
) -> tuple[RoutePlan, Admission]:  # fmt: skip
    """The limit, credit and quota steps every endpoint runs: rate limits, bulkheads and the extraction defence,
    then the reservation (through the leases, scaled out), put on record while it stays open, then the end
    user's quotas. Each returns what it decided: the plan to forward by, and the admission (its output cap
    lowered to what the end user's quota leaves). `output`: the cap field and the output the request asks for."""
    plan = await limit.admit(flow.req, flow.state, flow.principal, prompt, plan, flow.record)
    admission = await admit(plan)
    flow.hold = admission.hold
    if flow.hold is not None:
        flow.state.sink.hold(flow.hold)
    await quota.hold(flow.state, flow.record, prompt[0], output, admission)
    return admission.plan or plan, admission


async def serve_chat(req: Request, state: AppState, api: ClientAPI) -> None:
    async def steps(flow: Flow) -> None:
        await _chat(flow, api)

    await serve(req, state, api.name, steps)


async def _chat(flow: Flow, api: ClientAPI) -> None:
    req, state, principal, record = flow.req, flow.state, flow.principal, flow.record
    chat = api.parse(flow.raw)
    record.model_requested = chat.model
    record.stream = chat.stream
    record.end_user = chat.end_user or record.end_user
    plan = plan_route(state.catalog, principal, chat.model, "chat", state.health, chat.body, state.scorer)
    if plan.score is not None:
        record.routing_score, record.routing_choice = round(plan.score, 4), plan.choice
        req.response_headers.append((b"x-tokenops-routing-score", f"{plan.score:.4f} {plan.choice}".encode()))
    counter = state.counter(plan.model.name)
    output = ("max_completion_tokens" if "max_completion_tokens" in chat.body else "max_tokens",
              chat.max_output or plan.model.max_output_tokens)  # fmt: skip
    plan, admission = await admitted(flow, limit.chat_prompt(chat), plan, lambda p: admit_chat_leased(
        state.charging.credit, principal, record, chat, p, len(flow.raw), counter), output)  # fmt: skip
    body = admission.body(chat.body)
    messages = await state.compaction(req, principal.tenant, chat, plan.model, counter, record, len(flow.raw))
    if messages is not None:
        body = {**body, "messages": messages}
    if chat.stream:
        await _stream(req, state, api, chat, body, plan, record, admission)
    else:
        await _complete(req, state, api, chat, body, plan, record, admission.hold)


def _unexpected(req: Request, exc: Exception) -> TokenopsError:
    log.error("unexpected failure in the request path (%s)", req.path, exc_info=exc)
    return TokenopsError("internal error; the request id identifies it in the logs")


def _release_unmetered(state: AppState, hold: Hold | None) -> None:
    if hold is not None and hold.open:
        state.charging.credit.release(hold)
        state.sink.close(hold.request_id)


def served(req: Request, record: UsageRecord, deployment: Deployment) -> None:
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
    req: Request, state: AppState, api: ClientAPI, chat: ChatRequest, body: dict[str, Any], plan: RoutePlan,
    record: UsageRecord, hold: Hold | None,
) -> None:  # fmt: skip
    deployment, result = await forward.chat(state, plan, body)
    served(req, record, deployment)
    counts = state.providers[deployment.id].counts
    usage = await meter.measured(result.usage, state.counter(deployment.model), body, meter.generated_of(result.body),
                                 counts)  # fmt: skip
    payload = api.render(result.body, usage, chat)
    add_usage(record, usage)
    finish(req, record)
    charge = await settle(state.sink, state.charging.credit, record, hold, usage)
    if hold is not None:
        _costed(req, chat, usage, charge)
        payload = api.render(result.body, usage, chat) if usage.cost is not None else payload
    await req.respond(200, payload)


def _costed(req: Request, chat: ChatRequest, usage: Usage, charge: Entry | None) -> None:
    """Say what the request cost the tenant: a header on a whole response, and in the usage object when asked."""
    cost = costed(req, charge)
    if chat.want_cost:
        usage.cost = cost


def costed(req: Request, charge: Entry | None) -> str:
    """What the request cost the tenant (exact, major units), also said in X-Tokenops-Cost on a whole response."""
    cost = format_exact(-charge.amount if charge is not None else 0)
    if not req.response_started:
        req.response_headers.append((b"x-tokenops-cost", cost.encode()))
    return cost


async def _stream(
    req: Request, state: AppState, api: ClientAPI, chat: ChatRequest, body: dict[str, Any], plan: RoutePlan,
    record: UsageRecord, admission: Admission,
) -> None:  # fmt: skip
    deployment, upstream = await forward.chat_stream(state, plan, body)
    encoder = api.encoder(chat, deployment.upstream_model)
    counter = state.counter(deployment.model)
    counts = None if counter.exact else state.providers[deployment.id].counts
    # a server known to send no stream usage counts the prompt while the stream runs, not after it
    early = asyncio.create_task(counts.prompt(body)) if counts is not None and counts.omits_stream_usage else None
    stream: ChatStream = upstream
    if admission.sliced and admission.hold is not None:
        stream = GrantedStream(upstream, state.charging.credit, admission.hold, counter)
    if admission.hold is not None:
        _report_interim(state, admission.hold, record, meter.StreamProgress(counter, body, upstream.chunks))
    try:
        served(req, record, deployment)
        outcome = await relay(req, stream, _ErrorsLast(encoder))
    except BaseException:
        if early is not None:
            early.cancel()
        raise
    finally:
        state.health.leave(deployment.id)
    tail = b""
    if isinstance(stream, GrantedStream) and stream.cut and not outcome.client_gone:
        await upstream.aclose()
        first = upstream.chunks[0] if upstream.chunks else None
        tail = encoder.chunk(length_chunk(first, deployment.upstream_model))
        record.error_code = "credit_exhausted"
    if counts is not None and outcome.outcome == "ok":  # what this server does with stream usage, as seen last
        counts.omits_stream_usage = upstream.usage is None
    usage = await meter.measured(upstream.usage, counter, body, meter.generated_of_chunks(upstream.chunks), counts,
                                 early)  # fmt: skip
    add_usage(record, usage)
    record.ttft_ms = round(outcome.ttft_ms, 3) if outcome.ttft_ms is not None else None
    record.outcome = outcome.outcome
    if outcome.error is not None:
        fail(record, outcome.error)
        state.health.failure(deployment.id)
    finish(req, record)
    charge = await settle(state.sink, state.charging.credit, record, admission.hold, usage)
    if admission.hold is not None:
        _costed(req, chat, usage, charge)
    if outcome.client_gone:
        await req.end(b"")
        return
    error = encoder.error(outcome.error) if outcome.error is not None else b""
    await req.end(tail + error + encoder.finish(usage))


def _report_interim(state: AppState, hold: Hold, record: UsageRecord, progress: meter.StreamProgress) -> None:
    """Keep the stream's usage so far in its reservation on record: a crash then loses one interval of billing."""

    async def probe(at_ms: int) -> str:
        u = await progress.measure()
        counts: tuple[int, ...] = (u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.output_tokens)
        if u.reasoning_tokens or u.cache_write_1h_tokens:
            counts += (u.reasoning_tokens, u.cache_write_1h_tokens)
        return interim_doc(record, counts, at_ms)

    state.sink.report(hold.request_id, probe)


class _ErrorsLast:
    """Holds a broken stream's error event back until its record is durable: it is what a client acts on."""

    def __init__(self, encoder: StreamEncoder) -> None:
        self.chunk = encoder.chunk
        self.finish = encoder.finish

    def error(self, err: TokenopsError) -> bytes:
        return b""

"""Forward: send the request to the first candidate deployment that answers.

Failures before the first byte reach the client (upstream down, overloaded, timed out)
fall over to the next permitted candidate; the route step already applied every hard
constraint, so a fallback never leaves the tenant's region or pool. A bad request is
not the deployment's fault and is returned at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tokenops.catalog import Deployment
from tokenops.errors import ServiceUnavailable, TokenopsError, UpstreamError, UpstreamTimeout
from tokenops.gateway.route import RoutePlan
from tokenops.gateway.state import AppState
from tokenops.providers import ChatResult, ChatStream, EmbedResult, Provider

T = TypeVar("T")
MAX_ATTEMPTS = 4
BACKOFF_S = 0.05  # before the third attempt and after; the first failover is immediate
_RETRYABLE = (UpstreamError, UpstreamTimeout, ServiceUnavailable)


def upstream_body(body: dict[str, Any], deployment: Deployment, stream: bool) -> dict[str, Any]:
    out = dict(body)
    out["model"] = deployment.upstream_model
    if stream:
        options = dict(body.get("stream_options") or {})
        options["include_usage"] = True
        out["stream_options"] = options
    return out


async def _first_answer(
    state: AppState, plan: RoutePlan, call: Callable[[Provider, Deployment], Awaitable[T]], keep: bool = False
) -> tuple[Deployment, T]:
    """The first answer; with `keep` the deployment stays counted busy until the caller's `health.leave`."""
    last: TokenopsError | None = None
    tried = 0
    for deployment in plan.candidates:
        if deployment.capacity and state.health.busy(deployment.id) >= deployment.capacity:
            continue  # shed rather than queue: a full deployment answers in seconds, a refusal in microseconds
        if tried == MAX_ATTEMPTS:
            break
        tried += 1
        if tried > 2:
            await asyncio.sleep(BACKOFF_S * 2 ** (tried - 3))
        provider = state.providers[deployment.id]
        state.health.enter(deployment.id)
        started = time.perf_counter()
        try:
            answer = await call(provider, deployment)
        except _RETRYABLE as err:
            state.health.leave(deployment.id)
            state.health.failure(deployment.id)
            last = err
            continue
        except BaseException:
            state.health.leave(deployment.id)
            raise
        state.health.success(deployment.id, (time.perf_counter() - started) * 1000)
        if not keep:
            state.health.leave(deployment.id)
        return deployment, answer
    if last is None:
        raise ServiceUnavailable(
            f"every permitted deployment of '{plan.model.name}' is at capacity; retry shortly",
            code="deployment_overloaded",
            headers={"retry-after": "1"},
        )
    raise last


async def chat(state: AppState, plan: RoutePlan, body: dict[str, Any]) -> tuple[Deployment, ChatResult]:
    return await _first_answer(state, plan, lambda p, d: p.chat(upstream_body(body, d, False)))


async def chat_stream(state: AppState, plan: RoutePlan, body: dict[str, Any]) -> tuple[Deployment, ChatStream]:
    return await _first_answer(state, plan, lambda p, d: p.chat_stream(upstream_body(body, d, True)), keep=True)


async def embed(state: AppState, plan: RoutePlan, body: dict[str, Any]) -> tuple[Deployment, EmbedResult]:
    return await _first_answer(state, plan, lambda p, d: p.embed(upstream_body(body, d, False)))

"""Admit: reserve the request's worst-case cost before it is forwarded (credit control).

The prompt is bounded cheaply by the body's size in bytes (a byte-level BPE token is
at least one byte; no tokenizer on large bodies) and counted exactly when the body is
small or that bound is refused, with the model's exact tokenizer only. The output is bounded by the
request's cap, clamped to what the balance covers (the final-unit grant); a stream with
no cap, or with a cap a thin balance could pay for only a few times over, gets a slice
and asks for more as it goes, up to its cap (`GrantedStream`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from tokenops.charging.credit import CreditController, Hold, Shortfall
from tokenops.charging.money import MTOK, round_up
from tokenops.errors import InsufficientFunds
from tokenops.gateway.auth import Principal
from tokenops.gateway.parse import ChatRequest
from tokenops.gateway.route import RoutePlan
from tokenops.limits.resilient import store_unavailable
from tokenops.providers import ChatStream, Usage
from tokenops.store import UsageRecord
from tokenops.tokenize import Counter, count_messages

SLICE_TOKENS = 128  # small: what a stream holds but has not used yet is unavailable to the others
_COUNT_MARGIN = 32  # tokens of template framing an upstream may add beyond our own count (per 8 messages)
_COUNT_SMALL_BODY = 4096  # counting a body this small exactly costs microseconds and frees headroom


@dataclass(slots=True)
class Admission:
    """What credit control decided: the reservation, how output is granted, and what the upstream may be sent."""

    hold: Hold | None
    sliced: bool = False  # output granted in slices as the stream goes
    plan: RoutePlan | None = None  # the route plan less fallbacks that have no price (None: unchanged)
    output_cap: tuple[str, int] | None = None  # the cap field and the lower cap the balance covers

    def body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request body to forward: the client's, with its output cap lowered to what was granted."""
        if self.output_cap is None:
            return body
        field, cap = self.output_cap
        return {**body, field: cap}


def _reserve(credit: CreditController, record: UsageRecord, principal: Principal, model: str, prompt: int,
             cap: int, min_output: int = 1, whole: bool = False) -> Hold | None:  # fmt: skip
    return credit.reserve(record.request_id, principal.tenant.id, principal.tenant.sector, principal.key.id,
                          record.session_id, model, prompt, cap, record.created_ms, min_output, whole)  # fmt: skip


def admit_chat(
    credit: CreditController, principal: Principal, record: UsageRecord, chat: ChatRequest, plan: RoutePlan,
    body_size: int, counter: Counter, whole: bool = False,
) -> Admission:  # fmt: skip
    """Reserve the request's worst case (clamping its cap to the balance, unless `whole`: see `reserve`)."""
    model = plan.model
    wanted = chat.max_output or model.max_output_tokens
    prompt = _exact_prompt(chat, counter) if counter.exact and body_size <= _COUNT_SMALL_BODY else body_size
    reserved, priced = _dearest(credit, principal, record, plan, min(prompt, body_size), wanted)
    sliced = chat.stream and (chat.max_output is None or _thin(credit, principal, record, reserved, prompt, wanted))
    if sliced:
        wanted = min(wanted, SLICE_TOKENS)
    try:
        hold = _reserve(credit, record, principal, reserved, min(prompt, body_size), wanted, whole=whole)
    except InsufficientFunds:
        if not counter.exact or body_size <= _COUNT_SMALL_BODY or (prompt := _exact_prompt(chat, counter)) >= body_size:
            raise
        hold = _reserve(credit, record, principal, reserved, prompt, wanted, whole=whole)
    cap = None
    if hold is not None and not sliced and hold.output < wanted:
        cap = ("max_completion_tokens" if "max_completion_tokens" in chat.body else "max_tokens", hold.output)
    return Admission(hold, sliced and hold is not None, priced if priced is not plan else None, cap)


async def admit_chat_leased(
    credit: CreditController, principal: Principal, record: UsageRecord, chat: ChatRequest, plan: RoutePlan,
    body_size: int, counter: Counter,
) -> Admission:  # fmt: skip
    """`admit_chat` through this replica's leases (`admit_leased`)."""
    return await admit_leased(credit, principal, lambda whole: admit_chat(credit, principal, record, chat, plan,
                                                                          body_size, counter, whole))  # fmt: skip


async def admit_embedding_leased(
    credit: CreditController, principal: Principal, record: UsageRecord, model: str, inputs: list[str]
) -> Admission:
    """`admit_embedding` through this replica's leases (`admit_leased`)."""
    return await admit_leased(credit, principal, lambda _whole: Admission(admit_embedding(credit, principal, record,
                                                                                          model, inputs)))  # fmt: skip


async def admit_leased(
    credit: CreditController, principal: Principal, attempt: Callable[[bool], Admission]
) -> Admission:
    """Reserve by `attempt(whole)`; scaled out, a reservation that does not fit this replica's lease first tops
    the lease up by what the refusal said was short, and tries again.

    The leases are those of the balance and of the tenant's hard budgets; it is refused (402)
    only when even the headroom left in the shared pools cannot cover it.
    """
    leases, account = credit.leases, credit.accounts.get(principal.tenant.id)
    if leases is None or account is None:
        return attempt(False)
    pool, exhausted = credit.budgets.pool, None
    for _ in range(4):  # each top-up that succeeded may meet another shortfall (the other lease, or a race)
        try:
            return attempt(True)  # the request whole, or a top-up first: a small lease must not clamp it
        except Shortfall as err:
            if err.code == "plan_allowance_exhausted":
                break  # a hard stop, its leases topped up already: what is left of it serves, clamped, or not
            if err.tokens and credit.grant_leases is not None:  # lease the grants' tokens first, then try again
                await credit.grant_leases.top_up_grants(err.tokens)
                continue
            if err.budget is None:
                if await leases.top_up(account, err.short):
                    continue
                if leases.refused_for_outage(account):
                    raise store_unavailable() from None  # Redis is unreachable and the tenant's rule is to refuse
            elif pool is not None:
                if await pool.top_up(*err.budget):
                    continue
                if pool.refused_for_outage(err.budget[0]):
                    raise store_unavailable() from None  # a shared budget cannot be checked while Redis is down
                exhausted = err.budget[0].spec.id  # the request does not fit the budget whole
            else:
                raise
            break
    try:
        return attempt(False)
    except InsufficientFunds as err:
        if exhausted is not None and err.code == "insufficient_balance":  # the budget refused it first
            raise InsufficientFunds(
                f"budget '{exhausted}' is exhausted for this period", code="budget_exceeded"
            ) from None
        raise


def _thin(credit: CreditController, principal: Principal, record: UsageRecord, model: str, prompt: int,
          cap: int) -> bool:  # fmt: skip
    """A capped stream on a thin balance is granted in slices up to its cap rather than held at its worst case
    (which it seldom uses), so the balance serves as many streams as it pays for."""
    return credit.thin(principal.tenant.id, principal.tenant.sector, principal.key.id, record.session_id, model,
                       prompt, cap, record.created_ms)  # fmt: skip


def _exact_prompt(chat: ChatRequest, counter: Counter) -> int:
    messages = chat.body.get("messages") or ()
    return count_messages(counter, messages, chat.body.get("tools")) + _COUNT_MARGIN * (1 + len(messages) // 8)


def _dearest(
    credit: CreditController, principal: Principal, record: UsageRecord, plan: RoutePlan, prompt: int, cap: int
) -> tuple[str, RoutePlan]:
    """The model to reserve at: the dearest worst case among those that may serve (fallbacks included).

    A fallback model without a price for a charged tenant is taken out of the plan returned,
    so it can never serve a request that nothing was reserved for.
    """
    if len(plan.chain) == 1 or principal.tenant.id not in credit.accounts:
        return plan.model.name, plan
    tenant, sector = principal.tenant.id, principal.tenant.sector
    chosen, worst = plan.model.name, None
    unpriced = set()
    for model in plan.chain:
        rates = credit.book.rates(record.created_ms, tenant, sector, model.name)
        if rates is None:
            unpriced.add(model.name)
            continue
        cost = rates.worst_input * prompt + rates.worst_output * cap
        if worst is None or cost > worst:
            chosen, worst = model.name, cost
    if unpriced - {plan.model.name}:
        return chosen, plan.without_models(unpriced - {plan.model.name})
    return chosen, plan


def admit_embedding(
    credit: CreditController, principal: Principal, record: UsageRecord, model: str, inputs: list[str]
) -> Hold | None:
    prompt = sum(len(text.encode("utf-8", "surrogatepass")) for text in inputs) + len(inputs)
    return _reserve(credit, record, principal, model, prompt, 0, min_output=0)


def _output_bound(payload: bytes, counter: Counter) -> int:
    """An upper bound of the output tokens in one chunk: exact per chunk, or its UTF-8 bytes."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return len(payload)
    parts: list[str] = []
    for choice in data.get("choices") or ():
        delta = choice.get("delta") or {}
        for name in ("content", "reasoning_content", "refusal"):
            if isinstance(delta.get(name), str):
                parts.append(delta[name])
        for call in delta.get("tool_calls") or ():
            fn = call.get("function") or {}
            parts += [str(fn.get("name") or ""), str(fn.get("arguments") or "")]
    if counter.exact:
        return sum(counter.count(p) for p in parts if p)
    return sum(len(p.encode("utf-8", "surrogatepass")) for p in parts)


class GrantedStream:
    """A stream that may only deliver the output tokens granted to it, asking for more slice by slice.

    When no more can be granted it stops before the chunk that would exceed the grant
    (that chunk is neither delivered nor billed), and `cut` is set: the pipeline then
    ends the stream cleanly with finish_reason "length".
    """

    def __init__(self, inner: ChatStream, credit: CreditController, hold: Hold, counter: Counter) -> None:
        self._inner = inner
        self._credit = credit
        self._hold = hold
        self._counter = counter
        self.used = 0
        self.cut = False

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._inner.usage = value

    @property
    def chunks(self) -> list[bytes]:
        return self._inner.chunks

    @chunks.setter
    def chunks(self, value: list[bytes]) -> None:
        self._inner.chunks = value

    @property
    def buffered(self) -> bool:
        return self._inner.buffered

    async def __aiter__(self) -> AsyncIterator[bytes]:
        hold = self._hold
        async for payload in self._inner:
            need = _output_bound(payload, self._counter)
            short = self.used + need - hold.output
            if short > 0 and await self._extend(short) < short:
                if self._inner.chunks and self._inner.chunks[-1] is payload:
                    self._inner.chunks.pop()
                self.cut = True
                return
            self.used += need
            yield payload

    async def _extend(self, short: int) -> int:
        """Ask for `short` more tokens (a slice at least); scaled out, top the lease up once if it is spent."""
        credit, hold = self._credit, self._hold
        wanted = max(short, SLICE_TOKENS)
        got = credit.extend(hold, wanted, credit.clock.now_ms())
        if got >= short or credit.leases is None or not hold.open:
            return got
        missing = wanted - got
        if credit.grant_leases is not None:  # the grants first (they pay before money), then the balance
            pooled = credit.pooled(hold.account, hold.model, hold.started_ms, hold.allowance)
            await credit.grant_leases.top_up_grants(credit.grant_leases.short(pooled, missing))
        money = round_up(missing * hold.rates.worst_output / MTOK)
        await credit.leases.top_up(hold.account, money)
        pool = credit.budgets.pool
        if pool is not None:  # and the hold's shared budgets
            for counter, _ in hold.budgets:
                if counter.leased is not None and counter.spec.mode == "hard":
                    await pool.top_up(counter, missing if counter.counts_tokens else money)
        return got + credit.extend(hold, missing, credit.clock.now_ms())

    async def aclose(self) -> None:
        await self._inner.aclose()


def length_chunk(first: bytes | None, model: str) -> bytes:
    """The closing chunk of a stream cut at the end of its grant, in the canonical form."""
    head = orjson.loads(first) if first else {}
    return orjson.dumps({
        "id": head.get("id", "chatcmpl"), "object": "chat.completion.chunk", "created": head.get("created", 0),
        "model": head.get("model", model), "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
    })  # fmt: skip

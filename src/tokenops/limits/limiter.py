"""Rate limits: requests and tokens per minute and concurrent requests, per key, tenant,
model or end user, consumed before the call and corrected after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenops.errors import RateLimited
from tokenops.limits.config import LimitRule, LimitsConfig
from tokenops.limits.counters import Counters

WINDOW_S = 60.0
LEASE_S = 900.0  # a concurrency slot never released (a crashed request) frees itself


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    key: str
    model: str
    end_user: str | None


@dataclass(slots=True)
class Ticket:
    """What a request took, to give back or correct when it settles."""

    estimate: int = 0
    token_buckets: list[str] = field(default_factory=list)
    slots: list[str] = field(default_factory=list)


def bucket(rule: LimitRule, caller: Caller) -> str:
    if rule.per == "key":
        scope = "k:" + caller.key
    elif rule.per == "tenant":
        scope = "t:" + caller.tenant
    elif rule.per == "model":
        scope = f"m:{caller.tenant}:{caller.model}"
    else:  # anonymous end users share their key's bucket
        scope = f"u:{caller.tenant}:{caller.end_user}" if caller.end_user else "k:" + caller.key
    return f"{rule.name}|{scope}"


def _refuse(code: str, what: str, rule: LimitRule, wait_s: float) -> RateLimited:
    seconds = max(1, int(wait_s + 0.999))
    return RateLimited(
        f"rate limit '{rule.name}' reached ({what}, per {rule.per.replace('_', ' ')}); retry after {seconds} s",
        code=code,
        headers={"retry-after": str(seconds)},
    )


class Limiter:
    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def admit(self, config: LimitsConfig, caller: Caller, estimate: int) -> Ticket:
        """Consume the request and its estimated tokens, or raise RateLimited naming the limit."""
        rules = [r for r in config.rules if r.applies(caller.tenant, caller.model)]
        ticket = Ticket(estimate=estimate)
        for rule in rules:
            name = bucket(rule, caller)
            if rule.rpm:
                wait = await self.counters.take(name + "|rpm", 1, rule.rpm, WINDOW_S)
                if wait:
                    raise _refuse("rate_limit_rpm", f"{rule.rpm} requests per minute", rule, wait)
            if rule.tpm:
                wait = await self.counters.take(name + "|tpm", estimate, rule.tpm, WINDOW_S)
                if wait:
                    raise _refuse("rate_limit_tpm", f"{rule.tpm} tokens per minute", rule, wait)
                ticket.token_buckets.append(name + "|tpm")
        try:
            for rule in rules:
                if rule.concurrency:
                    slot = bucket(rule, caller) + "|conc"
                    if not await self.counters.acquire(slot, rule.concurrency, LEASE_S):
                        raise _refuse("concurrency_limit", f"{rule.concurrency} concurrent requests", rule, 1.0)
                    ticket.slots.append(slot)
        except BaseException:  # refused (or the counters failed) part way: give back the slots taken
            await self.release(ticket)
            raise
        return ticket

    async def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        """Replace the estimate by the tokens actually used, and give back the concurrency slots."""
        delta = actual_tokens - ticket.estimate
        if delta:
            for name in ticket.token_buckets:
                await self.counters.adjust(name, delta, WINDOW_S)
        await self.release(ticket)

    async def release(self, ticket: Ticket) -> None:
        for slot in ticket.slots:
            await self.counters.release(slot)
        ticket.slots.clear()

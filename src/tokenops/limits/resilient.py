"""Counters that survive a counter-store (Redis) outage, as each tenant's policy says.

`ResilientCounters` passes every operation straight to the shared counters while they
answer (no extra round trip). When one fails to connect, the store is marked down and each
operation follows the rule of the tenant it is made for (`CURRENT_TENANT`, set by the guard):
`fail_closed` refuses it with 503 `counter_store_unavailable`, `local` runs it on this
process's own `MemoryCounters`. While down, at most one operation a second tries the store
again; the first that succeeds brings it back, and concurrency slots released meanwhile are
given back to it then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

import redis.exceptions

from tokenops.errors import ServiceUnavailable
from tokenops.limits.config import OutageRule
from tokenops.limits.counters import Counters, MemoryCounters

log = logging.getLogger("tokenops.limits")
T = TypeVar("T")

# the tenant an operation is made for: set around admission and settlement
CURRENT_TENANT: ContextVar[str | None] = ContextVar("tokenops_counter_tenant", default=None)
# connection failures that mean the store is unreachable (a script error is no outage)
STORE_DOWN: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def store_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the counter store is unreachable and this tenant's policy is to refuse meanwhile; retry shortly",
        code="counter_store_unavailable",
        headers={"retry-after": "1"},
    )


class ResilientCounters:
    """The `Counters` contract over a shared store, with a per-tenant fallback while it is down."""

    def __init__(
        self,
        primary: Counters,
        fallback: Counters | None = None,
        probe_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback: Counters = fallback or MemoryCounters()
        self.probe_s = probe_s
        self.rule_for: Callable[[str], OutageRule] = lambda tenant: OutageRule()
        self.down_since: float | None = None
        self._clock = clock
        self._next_probe = 0.0
        self._probing = False
        self._primary_slots: dict[str, int] = {}  # concurrency slots this process holds on the store
        self._owed: list[str] = []  # slots released while the store was down: given back when it returns

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def rule(self, tenant: str | None) -> OutageRule:
        return self.rule_for(tenant) if tenant is not None else OutageRule()

    def _fell(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = self._clock()
            log.error("counter store unreachable (%s): each tenant's outage policy applies", exc)
        self._next_probe = self._clock() + self.probe_s

    async def _recovered(self) -> None:
        log.warning("counter store reachable again after %.1f s", self._clock() - (self.down_since or 0.0))
        self.down_since = None
        owed, self._owed = self._owed, []
        for i, bucket in enumerate(owed):
            try:
                await self.primary.release(bucket)
            except STORE_DOWN as exc:
                self._owed.extend(owed[i:])
                self._fell(exc)
                return

    async def _run(self, op: Callable[[Counters], Awaitable[T]], refuse: bool) -> T:
        """`op` on the store while it answers; else per the current tenant's rule (fallback or refusal)."""
        if self.down_since is None or (not self._probing and self._clock() >= self._next_probe):
            probing = self.down_since is not None
            self._probing = self._probing or probing
            try:
                result = await op(self.primary)  # the client itself resends once on a connection Redis closed
            except STORE_DOWN as exc:
                self._fell(exc)
            else:
                if probing:
                    await self._recovered()
                return result
            finally:
                if probing:
                    self._probing = False
        if refuse and self.rule(CURRENT_TENANT.get()).mode != "local":
            raise store_unavailable()
        return await op(self.fallback)

    async def take(self, bucket: str, amount: int, limit: int, window_s: float) -> float:
        return await self._run(lambda c: c.take(bucket, amount, limit, window_s), refuse=True)

    async def adjust(self, bucket: str, delta: int, window_s: float) -> None:
        # a correction lost in an outage is not worth a refusal: it lands wherever the counters are now
        await self._run(lambda c: c.adjust(bucket, delta, window_s), refuse=False)

    async def total(self, bucket: str, window_s: float) -> float:
        return await self._run(lambda c: c.total(bucket, window_s), refuse=True)

    async def acquire(self, bucket: str, limit: int, lease_s: float) -> bool:
        got_primary = False

        async def acquire(counters: Counters) -> bool:
            nonlocal got_primary
            got = await counters.acquire(bucket, limit, lease_s)
            got_primary = got and counters is self.primary
            return got

        got = await self._run(acquire, refuse=True)
        if got_primary:
            self._primary_slots[bucket] = self._primary_slots.get(bucket, 0) + 1
        return got

    async def release(self, bucket: str) -> None:
        held = self._primary_slots.get(bucket, 0)
        if not held:  # taken from the fallback while the store was down
            await self.fallback.release(bucket)
            return
        if held == 1:
            del self._primary_slots[bucket]
        else:
            self._primary_slots[bucket] = held - 1
        if self.down_since is not None:
            self._owed.append(bucket)
            return
        try:
            await self.primary.release(bucket)
        except STORE_DOWN as exc:
            self._owed.append(bucket)
            self._fell(exc)

    async def held(self, bucket: str) -> int:
        return await self._run(lambda c: c.held(bucket), refuse=False)

    async def add_within(self, bucket: str, need: int, want: int, limit: int, until_s: int) -> tuple[int, int]:
        # a correction (need <= 0) lost in an outage is not worth a refusal, as with `adjust`
        return await self._run(lambda c: c.add_within(bucket, need, want, limit, until_s), refuse=need > 0)

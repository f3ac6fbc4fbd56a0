"""Hard budgets shared by replicas: the spent amount of each budget's period lives in Redis.

One Lua script per budget, subject and period keeps, atomically,

    spent = what was charged against the budget in the period (reported by the replicas)
    lease = what each replica may still reserve, with an expiry on Redis's clock

and grants `min(wanted, limit - spent - sum(leases))`, so `spent + sum(leases)` never
exceeds the limit (sent with every call, so a changed budget applies at once). Every
replica reserves only within its lease, as with credit leases (`leases.py`); a settled
charge moves from the lease to `spent` with the replica's next call. The keys expire
two days after the period ends. If Redis restarts empty, `spent` is recomputed from the
ledger's charges in the period, and the open reservations recorded in PostgreSQL are
held as a short-lived lease until the live replicas have renewed theirs. A call carries a
nonce, so one resent after its reply was lost counts its charges once.

While Redis is unreachable a hard budget cannot be checked: what a replica holds may still
be reserved, nothing more (the request path answers 503 `counter_store_unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable

import redis.asyncio as aioredis

from tokenops.charging.budgets import BudgetCounter, period_end_ms
from tokenops.limits.resilient import STORE_DOWN

log = logging.getLogger("tokenops.charging.budgets")

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me = ARGV[1]
local debit, want, floor, ttl, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6])
local spent = redis.call('HGET', KEYS[1], 'spent')
if not spent then
  if ARGV[7] == '' then return {-1, 0} end
  spent = tonumber(ARGV[7])
  redis.call('DEL', KEYS[2], KEYS[3])
  local recovered = tonumber(ARGV[8])
  if recovered > 0 then
    redis.call('HSET', KEYS[2], '~recovered', string.format('%.0f', recovered))
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[9]), '~recovered')
  end
else
  spent = tonumber(spent)
end
if redis.call('GET', KEYS[4]) == ARGV[11] then
  debit = 0  -- this call was sent again after its reply was lost: its charges count once
else
  redis.call('SET', KEYS[4], ARGV[11], 'PX', 600000)
end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('HDEL', KEYS[2], dead)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
spent = spent + debit
redis.call('HSET', KEYS[1], 'spent', string.format('%.0f', spent))
local cur, others = 0, 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if all[i] == me then cur = tonumber(all[i + 1]) else others = others + tonumber(all[i + 1]) end
end
cur = math.max(0, cur - debit)
local avail = limit - spent - others
local new = want
if want > cur then new = math.max(cur, math.min(want, avail)) end
new = math.max(new, floor)
if new > 0 then
  redis.call('HSET', KEYS[2], me, string.format('%.0f', new))
  redis.call('ZADD', KEYS[3], now + ttl, me)
else
  redis.call('HDEL', KEYS[2], me)
  redis.call('ZREM', KEYS[3], me)
end
local expire_at = tonumber(ARGV[10])
if expire_at > 0 then
  for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], expire_at) end
end
return {new, spent}
"""

_KEEP_AFTER_MS = 2 * 86_400_000  # a period's keys outlive it, for reservations that settle late

# (spent in the counter's period, open reservations that may count against it), from the ledger
Recompute = Callable[[BudgetCounter], Awaitable[tuple[int, int]]]
# (leased, reserved) -> (lease wanted, lease kept at least)
Target = Callable[[int, int], tuple[int, int]]


def slot_of(counter: BudgetCounter) -> str:
    return f"{counter.spec.id}:{counter.subject}:{counter.period}"


class RedisBudgets:
    """The budget pool on Redis, one per replica (`replica` names it among the leases)."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        recompute: Recompute | None = None,
        ttl_ms: int = 30_000,
        chunk: int = 0,
        replica: str | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.recompute = recompute
        self.ttl_ms = ttl_ms
        self.chunk = chunk  # leased beyond the need (accounting units or tokens), so fewer reservations need a call
        self.replica = replica or secrets.token_hex(6)
        self.unsent: dict[str, int] = {}  # per slot: charged here, not yet reported
        self._counters: dict[str, BudgetCounter] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refused: set[str] = set()
        self._script = client.register_script(_SCRIPT)
        self._kick: asyncio.Task[None] | None = None

    def _keys(self, slot: str) -> list[str]:
        base = f"{self.prefix}budget6:{slot}"  # 6: money in millionths (fen before)
        return [base, base + ":lease", base + ":exp", f"{base}:op:{self.replica}"]

    def spent(self, counter: BudgetCounter, charged: int) -> None:
        if charged == 0:
            return
        slot = slot_of(counter)
        self._counters[slot] = counter
        self.unsent[slot] = self.unsent.get(slot, 0) + charged
        if self._kick is None or self._kick.done():
            with contextlib.suppress(RuntimeError):  # no loop (an offline tool): the next refresh reports it
                self._kick = asyncio.get_running_loop().create_task(self._report())

    async def _report(self) -> None:
        await asyncio.sleep(0)
        for slot in list(self.unsent):
            counter = self._counters[slot]
            try:
                await self._call(counter, lambda leased, reserved: (leased, reserved))
            except Exception:
                log.warning("could not report the charges of budget %s to the pool; retried by the upkeep", slot)

    def refused_for_outage(self, counter: BudgetCounter) -> bool:
        return slot_of(counter) in self._refused

    async def top_up(self, counter: BudgetCounter, need: int) -> bool:
        slot = slot_of(counter)
        self._refused.discard(slot)
        if need <= 0 or counter.headroom >= need:
            return True
        try:
            await self._call(
                counter,
                lambda leased, reserved: (max(leased, reserved + need + self.chunk), reserved),
                lambda: counter.headroom >= need,  # another request topped it up meanwhile
            )
        except STORE_DOWN:
            self._refused.add(slot)
            return False
        except Exception:
            log.exception("budget lease top-up of %s failed", slot)
            return False
        return counter.headroom >= need

    async def _call(self, counter: BudgetCounter, target: Target, enough: Callable[[], bool] | None = None) -> None:
        """One round trip for a counter: report what was charged, and lease `target(leased, reserved)`."""
        slot = slot_of(counter)
        self._counters[slot] = counter
        async with self._locks.setdefault(slot, asyncio.Lock()):
            if enough is not None and enough():
                return
            leased = counter.leased or 0
            want, floor = target(leased, counter.reserved)
            want = max(want, floor)
            if want < leased:
                counter.leased = want  # what is being given back is no longer reservable
            debit = self.unsent.pop(slot, 0)
            try:
                new, spent = await self._run(counter, slot, debit, want, floor)
            except BaseException:
                self.unsent[slot] = self.unsent.get(slot, 0) + debit
                raise
            unsent = self.unsent.get(slot, 0)
            counter.leased = new - unsent  # less what settled meanwhile
            counter.spent = max(counter.spent, spent + unsent)  # for alerts: what every replica charged

    async def _run(self, counter: BudgetCounter, slot: str, debit: int, want: int, floor: int) -> tuple[int, int]:
        end = period_end_ms(counter.spec.period, counter.period)
        args: list[str | int] = [self.replica, debit, want, floor, self.ttl_ms, counter.limit, "", 0, 0,
                                 end + _KEEP_AFTER_MS if end else 0, secrets.token_hex(8)]  # fmt: skip
        reply = await self._script(keys=self._keys(slot), args=args)
        if int(reply[0]) == -1:  # a new period, or Redis lost the pool: start it from the ledger
            if self.recompute is None:
                raise RuntimeError("the budget pool is empty and nothing can recompute it")
            spent, open_holds = await self.recompute(counter)
            args[6:9] = [spent, open_holds, 5_000]  # the open holds count until the replicas renewed theirs
            reply = await self._script(keys=self._keys(slot), args=args)
            log.info("budget pool %s started from the ledger: %d spent, %d held open", slot, spent, open_holds)
        return int(reply[0]), int(reply[1])

    async def refresh(self, counters: Iterable[BudgetCounter]) -> None:
        for counter in list(counters):
            if counter.leased is None:
                continue
            if not counter.leased and not counter.reserved and not self.unsent.get(slot_of(counter)):
                continue

            def renew(leased: int, reserved: int, slack: int = self.chunk) -> tuple[int, int]:
                return (leased if leased <= reserved + 2 * slack else reserved + slack), reserved

            try:
                await self._call(counter, renew)
            except Exception:
                log.warning("could not renew the budget lease of %s", slot_of(counter))

    async def close(self, counters: Iterable[BudgetCounter]) -> None:
        for counter in list(counters):
            if counter.leased is None or not (counter.leased or self.unsent.get(slot_of(counter))):
                continue
            try:
                await self._call(counter, lambda leased, reserved: (0, reserved))
            except Exception:
                log.warning("could not give back the budget lease of %s (it expires)", slot_of(counter))

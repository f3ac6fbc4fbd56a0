"""Credit leases: how replicas share one prepaid balance without any of them overrunning it.

Scaled out, every replica runs its own in-memory credit controller; each may only
reserve within a lease, a part of the account's headroom it took from Redis. One Lua
script per account keeps, atomically,

    head  = balance + limit, as charged so far (debits reported by the replicas, top-ups)
    lease = what each replica holds, with an expiry on Redis's clock

and grants `min(wanted, head - sum(leases))`, so the leases together never exceed the
headroom. A settled charge lowers both the replica's lease and the head by the debit
(sent with the replica's next call: until then `head - sum(leases)` is unchanged, so
the delay is safe). Every call carries a nonce, kept per account and replica: a call the
client sends again after its connection broke (a reply lost, not the call) applies its debit
or top-up once. A replica renews its leases every second and gives back what it
does not need; a dead replica's leases expire. If Redis restarts empty the head is
recomputed from the ledger (balance + limit, less the open reservations recorded in
PostgreSQL, held as a short-lived lease until the live replicas have registered theirs).

While Redis is unreachable a top-up follows the tenant's outage rule: `fail_closed` refuses
(503 `counter_store_unavailable`); `local` may spend, beyond the lease it holds, at most the
tenant's declared `outage_credit` on this replica until Redis answers again (debits made
meanwhile are reported then). The overrun of a balance is so bounded by what it declared.

The synchronous controller sees only `room()`; top-ups are awaited by the request path
before it refuses, and by the upkeep task in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import redis.asyncio as aioredis

from tokenops.charging.accounts import Account
from tokenops.charging.money import parse_amount
from tokenops.limits.config import OutageRule
from tokenops.limits.resilient import STORE_DOWN

log = logging.getLogger("tokenops.charging.leases")

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, me = ARGV[1], ARGV[2]
local head = redis.call('HGET', KEYS[1], 'head')
local function once()  -- false for a call resent after its reply was lost
  local nonce = ARGV[#ARGV]
  if redis.call('GET', KEYS[4]) == nonce then return false end
  redis.call('SET', KEYS[4], nonce, 'PX', 600000)
  return true
end
if op == 'adjust' then
  if head and once() then
    redis.call('HSET', KEYS[1], 'head', string.format('%.0f', tonumber(head) + tonumber(ARGV[3])))
  end
  return {0, 0}
end
local debit, want, floor, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if not head then
  if ARGV[7] == '' then return {-1, 0} end
  head = tonumber(ARGV[7])
  redis.call('DEL', KEYS[2], KEYS[3])
  local recovered = tonumber(ARGV[8])
  if recovered > 0 then
    redis.call('HSET', KEYS[2], '~recovered', string.format('%.0f', recovered))
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[9]), '~recovered')
  end
else
  head = tonumber(head)
end
if not once() then debit = 0 end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('HDEL', KEYS[2], dead)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
head = head - debit
redis.call('HSET', KEYS[1], 'head', string.format('%.0f', head))
local cur, others = 0, 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if all[i] == me then cur = tonumber(all[i + 1]) else others = others + tonumber(all[i + 1]) end
end
cur = math.max(0, cur - debit)
local avail = head - others
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
return {new, avail - new}
"""


class CreditLeases(Protocol):
    """What the credit controller and the charging service ask of a lease layer."""

    def room(self, account: Account) -> int:
        """What new reservations on this account may take here, now (synchronous, no I/O)."""

    def spent(self, account_id: str, debit: int) -> None:
        """A charge settled here: the lease shrinks by it (reported to the pool with the next call)."""

    async def top_up(self, account: Account, need: int) -> bool:
        """Try to lease enough that `need` more accounting units fit here; whether they fit now."""

    def refused_for_outage(self, account: Account) -> bool:
        """Whether the last top-up of this account failed because Redis is down and its rule is to refuse."""

    async def evict(self, replicas: Iterable[str], accounts: Iterable[Account]) -> None:
        """Take dead replicas' leases out of the pools now, rather than when they expire."""

    async def adjust(self, account_id: str, amount: int) -> None:
        """The balance or limit changed by `amount` outside credit control (top-up, grant, new limit)."""

    async def refresh(self, accounts: Iterable[Account]) -> None:
        """Renew the leases held, report debits, give back what is not needed (the upkeep task)."""

    async def close(self, accounts: Iterable[Account]) -> None:
        """Give every lease back (shutdown, once nothing is reserved any more)."""


class Pooled(Protocol):
    """What a lease pool is kept for: an account's balance, or (`grant_leases.py`) a grant's tokens."""

    @property
    def id(self) -> str: ...

    @property
    def reserved(self) -> int:
        """What requests in flight here hold of it."""


# (balance + limit, open reservations) of an account, from the ledger
Recompute = Callable[[str], Awaitable[tuple[int, int]]]
# (held, reserved) -> (lease wanted, lease kept at least)
Target = Callable[[int, int], tuple[int, int]]


class RedisLeases:
    """The lease layer on Redis, one per replica (`replica` names it in the pool)."""

    namespace = "credit6"  # 6: amounts in millionths (fen before)

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
        self.chunk = chunk  # accounting units leased beyond the need, so most reservations need no round trip
        self.replica = replica or secrets.token_hex(6)
        self.held: dict[str, int] = {}
        self.unsent: dict[str, int] = {}  # debits settled here, not yet reported
        self.slack: dict[str, int] = {}  # per account: the last shortfall seen, what to keep spare
        self.free: dict[str, int] = {}  # per account: what the pool had left unleased at the last call
        self._accounts: dict[str, Pooled] = {}  # the accounts seen, for their reserved amounts
        self._locks: dict[str, asyncio.Lock] = {}
        self._script = client.register_script(_SCRIPT)
        self._kick: asyncio.Task[None] | None = None
        self.outage: Callable[[str], OutageRule] | None = None  # per account (tenant): its Redis outage rule
        self.outage_used: dict[str, int] = {}  # per account: leased here beyond the pool while Redis is down
        self._refused: set[str] = set()  # accounts whose last top-up was refused by their outage rule

    def _keys(self, account_id: str) -> list[str]:
        base = f"{self.prefix}{self.namespace}:{account_id}"
        return [base, base + ":lease", base + ":exp", f"{base}:op:{self.replica}"]

    def room(self, account: Pooled) -> int:
        self._accounts[account.id] = account
        return self.held.get(account.id, 0) - account.reserved

    def spent(self, account_id: str, debit: int) -> None:
        if debit == 0:
            return
        self.held[account_id] = self.held.get(account_id, 0) - debit
        self.unsent[account_id] = self.unsent.get(account_id, 0) + debit
        if self._kick is None or self._kick.done():
            with contextlib.suppress(RuntimeError):  # no loop (an offline tool): the next refresh reports it
                self._kick = asyncio.get_running_loop().create_task(self._report())

    async def _report(self) -> None:
        """Report settled debits promptly, so a replica that dies loses as little as possible."""
        await asyncio.sleep(0)
        for account_id in list(self.unsent):
            try:
                await self._call(account_id, lambda held, reserved: (held, reserved))
            except Exception:
                log.warning("could not report debits of %s to the lease pool; retried by the upkeep", account_id)

    def refused_for_outage(self, account: Pooled) -> bool:
        return account.id in self._refused

    async def top_up(self, account: Pooled, need: int) -> bool:
        self._accounts[account.id] = account
        self._refused.discard(account.id)
        if need <= 0 or self.room(account) >= need:
            return True
        slack = self._spare(need)
        self.slack[account.id] = slack
        try:
            await self._call(
                account.id,
                lambda held, reserved: (max(held, reserved + need + slack), reserved),
                lambda: self.room(account) >= need,  # another request topped it up meanwhile
            )
        except STORE_DOWN:
            return self._outage_top_up(account, need)
        except Exception:
            log.exception("credit lease top-up of %s failed", account.id)
            return False
        return self.room(account) >= need

    def _spare(self, need: int) -> int:
        """What a top-up for `need` leases beyond it, and the renewal keeps (so most reservations need no round
        trip): the chunk, or as much again as the need."""
        return max(self.chunk, need)

    def _outage_top_up(self, account: Pooled, need: int) -> bool:
        """Redis is unreachable: refuse, or lease locally within the account's declared outage bound."""
        assert isinstance(account, Account)
        rule = self.outage(account.id) if self.outage is not None else OutageRule()
        if rule.mode != "local":
            self._refused.add(account.id)
            return False
        bound = parse_amount(rule.credit, account.currency, f"limits.outage ({account.id}).outage_credit")
        used = self.outage_used.get(account.id, 0)
        extra = need - self.room(account)
        if extra > 0 and used + extra <= bound:
            self.held[account.id] = self.held.get(account.id, 0) + extra
            self.outage_used[account.id] = used + extra
            log.warning("Redis unreachable: %s leased %d locally (%d of its outage bound %d)", account.id, extra,
                        used + extra, bound)  # fmt: skip
        return self.room(account) >= need

    async def _call(self, account_id: str, target: Target, enough: Callable[[], bool] | None = None) -> None:
        """One round trip for an account: report its debits, and lease `target(held, reserved)`.

        Want and floor are taken under the account's lock, from the state at that moment: what
        this replica reserved is never given back, and nothing is reserved against a lease
        being given back while the call is out.
        """
        async with self._locks.setdefault(account_id, asyncio.Lock()):
            if enough is not None and enough():
                return
            account = self._accounts.get(account_id)
            reserved = account.reserved if account is not None else 0
            held = self.held.get(account_id, 0)
            want, floor = target(held, reserved)
            want = max(want, floor)
            if want < held:
                self.held[account_id] = want  # what is being given back is no longer reservable
            debit = self.unsent.pop(account_id, 0)
            try:
                new = await self._run(account_id, debit, want, floor)
            except BaseException:
                self.unsent[account_id] = self.unsent.get(account_id, 0) + debit
                raise
            self.held[account_id] = new - self.unsent.get(account_id, 0)  # less what settled meanwhile
            self.outage_used.pop(account_id, None)  # Redis answers: what was leased locally is accounted for

    async def _run(self, account_id: str, debit: int, want: int, floor: int) -> int:
        args: list[str | int] = ["lease", self.replica, debit, want, floor, self.ttl_ms, "", 0, 0, secrets.token_hex(8)]
        reply = await self._script(keys=self._keys(account_id), args=args)
        if int(reply[0]) == -1:  # Redis lost the pool: start it again from the ledger
            if self.recompute is None:
                raise RuntimeError("the lease pool is empty and nothing can recompute it")
            head, open_holds = await self.recompute(account_id)
            args[6:9] = [head, open_holds, 5_000]  # the open holds count until the replicas renewed theirs
            reply = await self._script(keys=self._keys(account_id), args=args)
            log.warning("lease pool of %s recomputed from the ledger: headroom %d, %d held open", account_id,
                        head, open_holds)  # fmt: skip
        self.free[account_id] = int(reply[1])
        return int(reply[0])

    async def adjust(self, account_id: str, amount: int) -> None:
        if amount:  # under the account's lock: the nonce tells a resent call only from the call just before it
            async with self._locks.setdefault(account_id, asyncio.Lock()):
                args: list[str | int] = ["adjust", self.replica, amount, secrets.token_hex(8)]
                await self._script(keys=self._keys(account_id), args=args)

    async def evict(self, replicas: Iterable[str], accounts: Iterable[Pooled]) -> None:
        dead = [r for r in replicas if r != self.replica]
        if not dead:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for account in accounts:
                lease, expiry = self._keys(account.id)[1:3]
                pipe.hdel(lease, *dead)
                pipe.zrem(expiry, *dead)
            await pipe.execute()

    async def refresh(self, accounts: Iterable[Pooled]) -> None:
        for account in list(accounts):
            self._accounts[account.id] = account
            if not self.held.get(account.id) and not account.reserved and not self.unsent.get(account.id):
                continue
            slack = self.slack.get(account.id, self.chunk)

            def renew(held: int, reserved: int, slack: int = slack) -> tuple[int, int]:
                return (held if held <= reserved + 2 * slack else reserved + slack), reserved

            try:
                await self._call(account.id, renew)
            except Exception:
                log.warning("could not renew the credit lease of %s", account.id)

    async def close(self, accounts: Iterable[Pooled]) -> None:
        for account in list(accounts):
            self._accounts[account.id] = account
            if self.held.get(account.id) or self.unsent.get(account.id):
                try:
                    await self._call(account.id, lambda held, reserved: (0, reserved))
                except Exception:
                    log.warning("could not give back the credit lease of %s (it expires)", account.id)

"""Counters on Redis, shared by every gateway replica: each operation is one Lua script, so no
interleaving of replicas can take more than a limit allows.

Windows and leases are timed by Redis's own clock (`TIME`), the one clock all replicas
share; a clock can be injected for tests. Every key starts with the deployment's prefix.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import redis.asyncio as aioredis

from tokenops.limits.counters import PERIOD_GRACE_S

_WINDOW = """
local now = tonumber(ARGV[1])
if now < 0 then local t = redis.call('TIME'); now = tonumber(t[1]) + tonumber(t[2]) / 1e6 end
local op, amount, limit, win = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local start = math.floor(now / win) * win
local h = redis.call('HMGET', KEYS[1], 's', 'c', 'p')
local s, cur, prev = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
if s == nil then
  s, cur, prev = start, 0, 0
elseif s ~= start then
  if start - s == win then prev = cur else prev = 0 end
  cur, s = 0, start
end
local elapsed = (now - start) / win
local est = prev * (1 - elapsed) + cur
local out = 0
if op == 'take' then
  if est + amount <= limit then
    cur = cur + amount
  elseif cur + amount > limit then
    out = (1 - elapsed) * win
    if amount > limit then out = out + win end
  else
    out = math.max(0.001, (est + amount - limit) / math.max(prev, 1e-9) * win)
  end
elseif op == 'adjust' then
  cur = math.max(0, cur + amount)
else
  out = est
end
redis.call('HSET', KEYS[1], 's', tostring(s), 'c', tostring(cur), 'p', tostring(prev))
redis.call('PEXPIRE', KEYS[1], math.ceil(2 * win * 1000) + 1000)
return tostring(out)
"""

_LEASE = """
local now = tonumber(ARGV[1])
if now < 0 then local t = redis.call('TIME'); now = tonumber(t[1]) + tonumber(t[2]) / 1e6 end
local op = ARGV[2]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tostring(now))
if op == 'acquire' then
  local limit, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
  if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
  redis.call('ZADD', KEYS[1], tostring(now + lease), ARGV[5])
  local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(top[2]) - now) * 1000) + 1000)
  return 1
elseif op == 'release' then
  redis.call('ZPOPMIN', KEYS[1])
  return 0
end
return redis.call('ZCARD', KEYS[1])
"""


# a period counter: a plain integer that expires an hour after its period ends (a late correction still lands)
_PERIOD = """
local need, want, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
if need > 0 and total + need > limit then return {0, total} end
local added = math.max(need, math.min(want, limit - total))
if added == 0 then return {0, total} end
total = math.max(0, total + added)
redis.call('SET', KEYS[1], string.format('%d', total), 'PXAT', ARGV[4])
return {added, total}
"""


class RedisCounters:
    """The `Counters` contract on Redis (sliding windows as hashes, concurrency leases as sorted sets)."""

    def __init__(
        self, client: aioredis.Redis, prefix: str = "tokenops:", clock: Callable[[], float] | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._window = client.register_script(_WINDOW)
        self._lease = client.register_script(_LEASE)
        self._period = client.register_script(_PERIOD)

    def _now(self) -> float:
        return self._clock() if self._clock is not None else -1.0

    async def _win(self, bucket: str, op: str, amount: int, limit: int, window_s: float) -> float:
        key = f"{self.prefix}w:{window_s:g}:{bucket}"
        return float(await self._window(keys=[key], args=[repr(self._now()), op, amount, limit, repr(window_s)]))

    async def take(self, bucket: str, amount: int, limit: int, window_s: float) -> float:
        return await self._win(bucket, "take", amount, limit, window_s)

    async def adjust(self, bucket: str, delta: int, window_s: float) -> None:
        await self._win(bucket, "adjust", delta, 0, window_s)

    async def total(self, bucket: str, window_s: float) -> float:
        return await self._win(bucket, "total", 0, 0, window_s)

    async def _leases(self, bucket: str, *args: str | int) -> int:
        return int(await self._lease(keys=[f"{self.prefix}c:{bucket}"], args=[repr(self._now()), *args]))

    async def acquire(self, bucket: str, limit: int, lease_s: float) -> bool:
        return await self._leases(bucket, "acquire", limit, repr(lease_s), secrets.token_hex(8)) == 1

    async def release(self, bucket: str) -> None:
        await self._leases(bucket, "release")

    async def held(self, bucket: str) -> int:
        return await self._leases(bucket, "held")

    async def add_within(self, bucket: str, need: int, want: int, limit: int, until_s: int) -> tuple[int, int]:
        key = f"{self.prefix}q:{bucket}"
        added, total = await self._period(keys=[key], args=[need, want, limit, (until_s + PERIOD_GRACE_S) * 1000])
        return int(added), int(total)

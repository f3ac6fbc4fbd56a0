"""Period counters behind end-user quotas, on both counter stores: the same contract, memory that follows the
end users active in a period (100,000 of them stay within a stated bound), and one quota shared by replicas."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.scaleout_support import REDIS_URL
from tokenops.limits import Counters, MemoryCounters
from tokenops.limits.counters import PERIOD_GRACE_S
from tokenops.limits.redis_counters import _PERIOD, RedisCounters
from tokenops.quotas import EndUserQuotas, Quota, TenantQuotas, period_bounds
from tokenops.quotas.service import bucket_of

# the figures the README states: what one active end user with one quota costs in each counter store
MEMORY_BYTES_PER_USER = 200
REDIS_BYTES_PER_USER = 160
USERS = 100_000
DAY_MS = 86_400_000


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    yield RedisCounters(client, redis_prefix)
    keys = [k async for k in client.scan_iter(match=redis_prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_period_counter_grants_what_fits_refuses_what_does_not_and_takes_corrections(
    counters: Counters,
) -> None:
    until = int(time.time()) + 3600
    assert await counters.add_within("u", 10, 50, 100, until) == (50, 50)
    assert await counters.add_within("u", 10, 80, 100, until) == (50, 100)  # as much as fits, at least the need
    assert await counters.add_within("u", 1, 1, 100, until) == (0, 100)  # nothing left: refused, nothing added
    assert await counters.add_within("u", -30, -30, 100, until) == (-30, 70)  # a correction always applies
    assert await counters.add_within("u", 0, 0, 100, until) == (0, 70)  # a read
    assert await counters.add_within("u", -500, -500, 100, until) == (-500, 0)  # never below zero
    assert await counters.add_within("other", 5, 5, 100, until) == (5, 5)  # each bucket its own


async def test_an_ended_period_is_dropped_whole_in_process() -> None:
    memory = MemoryCounters()
    clock = [1_000_000.0]
    memory._wall = lambda: clock[0]
    for i in range(2000):
        await memory.add_within(f"u{i}", 1, 1, 10, 1_000_100)
    clock[0] = 1_000_100 + PERIOD_GRACE_S + 1
    for i in range(1024):  # the sweep runs every 1,024 operations
        await memory.add_within(f"next{i}", 1, 1, 10, 1_100_000)
    assert list(memory._periods) == [1_100_000]


async def test_a_redis_period_counter_expires_an_hour_after_its_period(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        until = int(time.time()) + 600
        await RedisCounters(client, redis_prefix).add_within("u", 1, 1, 10, until)
        ttl_ms = await client.pttl(redis_prefix + "q:u")
        assert (600 + PERIOD_GRACE_S - 5) * 1000 < ttl_ms <= (600 + PERIOD_GRACE_S) * 1000
        await client.delete(redis_prefix + "q:u")
    finally:
        await client.aclose()


def _service(counters: Counters) -> EndUserQuotas:
    quotas = EndUserQuotas(counters)
    quotas.policies = {"ringback-app": TenantQuotas((Quota("daily-tokens", "day", tokens=20_000),))}
    return quotas


async def _serve_users(quotas: EndUserQuotas, count: int, at_ms: int) -> None:
    async def one(i: int) -> None:
        ticket = await quotas.admit(f"r{i}", "ringback-app", f"subscriber-{i:07d}", 40, 200, 0, at_ms)
        assert ticket is not None

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 100, count))))


def _deep_size(group: dict[str, int]) -> int:
    """What the counters hold: the table, every key and every value (shared small integers counted too)."""
    return sys.getsizeof(group) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in group.items())


async def test_100000_end_users_stay_within_the_stated_memory_in_process() -> None:
    counters = MemoryCounters()
    quotas = _service(counters)
    at_ms = int(time.time() * 1000)
    await _serve_users(quotas, USERS, at_ms)
    [group] = counters._periods.values()
    assert len(group) == USERS
    held = _deep_size(group)
    assert held / USERS <= MEMORY_BYTES_PER_USER, f"{held / USERS:.0f} bytes per active end user"
    # a day later the day's counters are gone: memory follows the users active in the period, not all ever seen
    counters._wall = lambda: at_ms / 1000 + 2 * 86_400
    await _serve_users(quotas, 1024, at_ms + 2 * DAY_MS)
    assert sum(len(g) for g in counters._periods.values()) == 1024


async def test_100000_end_users_stay_within_the_stated_memory_on_redis(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        counters = RedisCounters(client, redis_prefix)
        quotas = _service(counters)
        at_ms = int(time.time() * 1000)
        served = 2_000
        await _serve_users(quotas, served, at_ms)  # through the service, as requests take them
        period, until_s = period_bounds("day", at_ms)
        sha = await client.script_load(_PERIOD)  # the rest pipelined: the same script on the same keys
        keys = [redis_prefix + "q:" + bucket_of("ringback-app", f"subscriber-{i:07d}", "daily-tokens", period)
                for i in range(USERS)]  # fmt: skip
        pipe = client.pipeline(transaction=False)
        for key in keys[served:]:
            pipe.evalsha(sha, 1, key, 240, 240, 20_000, (until_s + PERIOD_GRACE_S) * 1000)
        await pipe.execute()
        chunks = [keys[i : i + 10_000] for i in range(0, USERS, 10_000)]
        assert sum([await client.exists(*chunk) for chunk in chunks]) == USERS
        pipe = client.pipeline(transaction=False)
        for key in keys[::100]:  # every hundredth: the keys differ only in the user's number
            pipe.memory_usage(key)
        sampled = await pipe.execute()
        per_user = sum(sampled) / len(sampled)
        pttl = await client.pttl(keys[0])
        assert pttl <= (until_s + PERIOD_GRACE_S) * 1000 - at_ms + 1000  # gone an hour after the day ends
        assert per_user <= REDIS_BYTES_PER_USER, f"{per_user:.0f} bytes per active end user"
        for chunk in chunks:
            await client.delete(*chunk)
    finally:
        await client.aclose()


async def test_replicas_sharing_redis_never_grant_one_user_more_than_the_quota(redis_prefix: str) -> None:
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    try:
        replicas = [_service(RedisCounters(c, redis_prefix)) for c in clients]
        for r in replicas:
            r.policies = {"t": TenantQuotas((Quota("q", "day", tokens=1_000),))}
        at_ms = int(time.time() * 1000)

        async def attempt(i: int) -> int:
            try:
                ticket = await replicas[i % 2].admit(f"r{i}", "t", "one-user", 50, 0, 0, at_ms)
            except Exception:
                return 0
            return 1 if ticket is not None else 0

        admitted = sum(await asyncio.gather(*(attempt(i) for i in range(60))))
        assert admitted == 20  # 20 x 50 = the quota exactly, however the two replicas interleave
        keys = [k async for k in clients[0].scan_iter(match=redis_prefix + "*")]
        await clients[0].delete(*keys)
    finally:
        for c in clients:
            await c.aclose()

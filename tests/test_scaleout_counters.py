"""Redis counters shared by replicas: racing replicas never take more than a limit allows."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.scaleout_support import REDIS_URL
from tokenops.limits.redis_counters import RedisCounters


async def test_two_replicas_racing_for_a_window_admit_exactly_the_limit(redis_prefix: str) -> None:
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    try:
        replicas = [RedisCounters(c, redis_prefix) for c in clients]
        waits = await asyncio.gather(*(replicas[i % 2].take("tenant|rpm", 1, 50, 60) for i in range(200)))
        assert sum(1 for w in waits if w == 0.0) == 50
        slots = await asyncio.gather(*(replicas[i % 2].acquire("tenant|conc", 10, 30) for i in range(100)))
        assert sum(slots) == 10 and await replicas[0].held("tenant|conc") == 10
    finally:
        for c in clients:
            await c.aclose()


async def test_keys_live_under_the_deployment_prefix_and_expire(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        counters = RedisCounters(client, redis_prefix)
        await counters.take("b", 1, 10, 1)
        await counters.acquire("c", 1, 5)
        keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
        ttls = [await client.pttl(k) for k in keys]
        assert len(keys) == 2 and all(0 < ttl <= 6100 for ttl in ttls)  # the longest lease plus a second
    finally:
        await client.aclose()

"""Contract tests every counters backend must pass: the in-process one and Redis, through one fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.scaleout_support import REDIS_URL
from tokenops.limits import Counters, MemoryCounters
from tokenops.limits.redis_counters import RedisCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def clock_and_counters(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Clock, Counters]]:
    clock = Clock()
    if request.param == "memory":
        yield clock, MemoryCounters(clock)
        return
    prefix = request.getfixturevalue("redis_prefix")
    client = aioredis.Redis.from_url(REDIS_URL)
    yield clock, RedisCounters(client, prefix, clock)
    await client.aclose()


async def test_take_admits_up_to_the_limit_then_says_how_long_to_wait(
    clock_and_counters: tuple[Clock, Counters],
) -> None:
    _, counters = clock_and_counters
    assert [await counters.take("b", 1, 3, 60) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await counters.take("b", 1, 3, 60)
    assert 0 < wait <= 60
    assert await counters.total("b", 60) == 3


async def test_sliding_window_forgets_the_previous_window_gradually(clock_and_counters: tuple[Clock, Counters]) -> None:
    clock, counters = clock_and_counters
    clock.now = 1020.0  # window [1020, 1080)
    for _ in range(10):
        assert await counters.take("b", 1, 10, 60) == 0.0
    clock.now = 1080.0 + 30  # halfway through the next window: half the previous one still counts
    assert await counters.total("b", 60) == pytest.approx(5)
    assert [await counters.take("b", 1, 10, 60) for _ in range(5)] == [0.0] * 5
    assert await counters.take("b", 1, 10, 60) > 0
    clock.now = 1200.0
    assert await counters.total("b", 60) == pytest.approx(0)


async def test_adjust_corrects_an_estimate(clock_and_counters: tuple[Clock, Counters]) -> None:
    _, counters = clock_and_counters
    assert await counters.take("t", 100, 1000, 60) == 0.0
    await counters.adjust("t", 850, 60)
    assert await counters.total("t", 60) == 950
    assert await counters.take("t", 100, 1000, 60) > 0
    await counters.adjust("t", -5000, 60)
    assert await counters.total("t", 60) == 0


async def test_an_amount_larger_than_the_limit_never_fits(clock_and_counters: tuple[Clock, Counters]) -> None:
    _, counters = clock_and_counters
    assert await counters.take("t", 5000, 1000, 60) > 60


async def test_concurrency_slots_are_taken_released_and_expire(clock_and_counters: tuple[Clock, Counters]) -> None:
    clock, counters = clock_and_counters
    assert await counters.acquire("c", 2, 30)
    assert await counters.acquire("c", 2, 30)
    assert not await counters.acquire("c", 2, 30)
    await counters.release("c")
    assert await counters.held("c") == 1
    assert await counters.acquire("c", 2, 30)
    clock.now += 31  # slots never released (a crashed request) free themselves
    assert await counters.held("c") == 0
    assert await counters.acquire("c", 2, 30)

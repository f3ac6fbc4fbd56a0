"""Priority classes and bulkheads: a bronze flood cannot starve gold traffic on a shared deployment."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.limits import Bulkheads, LimitsConfig

CAPACITY = 4  # per deployment; tele-lite has two shared deployments


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    catalog = demo_catalog()
    for dep in catalog["deployments"]:
        if dep["id"] in ("lite-east-1", "lite-north-1"):
            dep["simulate"] = {"ttft_ms": 100}
    catalog["limits"]["capacity"] = {"lite-east-1": CAPACITY, "lite-north-1": CAPACITY}
    catalog["limits"]["shares"] = {"gold": 0.5, "bronze": 0.25}
    gateway = start_gateway(catalog, tmp_path / "home")
    yield gateway
    gateway.server.stop()


async def _flood(gw: Gateway) -> tuple[list[int], list[int], list[str]]:
    users = itertools.count()
    gold: list[int] = []
    bronze: list[int] = []
    codes: list[str] = []
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)

    async with httpx.AsyncClient(base_url=gw.url, timeout=30, limits=limits) as client:

        async def send(key: str, user: str) -> httpx.Response:
            body = {"model": "tele-lite", "messages": [{"role": "user", "content": "status?"}], "user": user}
            return await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})

        async def bronze_worker() -> None:
            while not stop.is_set():
                reply = await send("sk-demo-consumer", f"fan-{next(users)}")
                bronze.append(reply.status_code)
                if reply.status_code != 200:
                    codes.append(reply.json()["error"]["code"])

        async def gold_worker() -> None:
            for _ in range(5):
                gold.append((await send("sk-demo-acme", "ops")).status_code)

        flood = [asyncio.create_task(bronze_worker()) for _ in range(10 * 2 * CAPACITY)]  # 10x capacity
        await asyncio.sleep(0.5)
        await asyncio.gather(*(gold_worker() for _ in range(4)))
        stop.set()
        await asyncio.gather(*flood)
    return gold, bronze, codes


def test_gold_requests_all_succeed_during_a_bronze_flood_at_ten_times_capacity(gw: Gateway) -> None:
    gold, bronze, codes = asyncio.run(_flood(gw))
    assert gold == [200] * 20
    assert bronze.count(200) > 0 and len(bronze) - bronze.count(200) > len(bronze) // 2
    assert set(codes) == {"capacity_exceeded"}
    admitted = gw.state.guard.bulkheads.admitted
    assert ("gold", "lite-east-1") in admitted or ("gold", "lite-north-1") in admitted
    refused = gw.records(tenant_id="ringback-app", status=503)
    assert len(refused) == len(codes) and {r["error_code"] for r in refused} == {"capacity_exceeded"}


async def test_waiting_higher_class_is_admitted_before_a_lower_one() -> None:
    config = LimitsConfig(capacity={"d": 2}, queue_ms={"gold": 2000, "silver": 2000, "bronze": 2000})
    heads = Bulkheads()
    assert await heads.enter(config, ["d"], "bronze") == "d"
    assert await heads.enter(config, ["d"], "bronze") == "d"
    bronze = asyncio.create_task(heads.enter(config, ["d"], "bronze"))
    await asyncio.sleep(0.01)
    gold = asyncio.create_task(heads.enter(config, ["d"], "gold"))
    await asyncio.sleep(0.01)
    heads.leave(config, "d", "bronze")
    assert await gold == "d" and not bronze.done()
    heads.leave(config, "d", "bronze")
    assert await bronze == "d"
    assert [c for c, _ in heads.admitted] == ["bronze", "bronze", "gold", "bronze"]


async def test_guaranteed_share_is_kept_free_for_its_class() -> None:
    config = LimitsConfig(capacity={"d": 4}, shares={"gold": 0.5}, queue_ms={"bronze": 0})
    heads = Bulkheads()
    assert [await heads.enter(config, ["d"], "bronze") for _ in range(3)] == ["d", "d", None]
    assert [await heads.enter(config, ["d"], "gold") for _ in range(2)] == ["d", "d"]
    assert heads.in_flight("d") == {"bronze": 2, "gold": 2}

"""Hard budgets shared by replicas: two gateway processes on one PostgreSQL and one Redis,
concurrent requests of one tenant whose daily budget is smaller than its balance, and the
budget's period never charges more than the budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import redis.asyncio as aioredis

from tests.charging_support import priced_catalog
from tests.conftest import demo_catalog
from tests.replica_processes import Replica, tenant_ledger, two_replicas
from tests.replica_processes import replica_env as replica_env  # a fixture
from tests.scaleout_support import REDIS_URL
from tests.test_scaleout_credit import KEY, TENANT
from tokenops.charging.budget_leases import RedisBudgets
from tokenops.charging.budgets import BudgetCounter, period_key
from tokenops.charging.catalog import BudgetSpec
from tokenops.charging.money import format_amount

BALANCE = 50_000_000  # accounting units (50.00 CNY): more than the budget
BUDGET = 15_000_000  # accounting units a day (15.00 CNY): covers some of the requests, not all


@pytest.fixture
def replicas(tmp_path: Path, pg_database: str, replica_env: dict[str, str]) -> Iterator[list[Replica]]:
    # the balance leased with room to spare: the budget limits
    env = dict(replica_env, TOKENOPS_CREDIT_LEASE_CHUNK="10000000")
    catalog = priced_catalog(
        demo_catalog(), format_amount(BALANCE, "CNY"), ttft_ms=20, tokens_per_s=1000, reply_tokens=200
    )
    catalog["budgets"] = [
        {
            "id": "ringback-day",
            "scope": "tenant",
            "tenant": TENANT,
            "period": "day",
            "amount": format_amount(BUDGET, "CNY"),
        }
    ]
    yield from two_replicas(tmp_path, catalog, env, pg_database)


async def _one(client: openai.AsyncOpenAI, i: int) -> int:
    kwargs: dict[str, Any] = {"max_tokens": 64} if i % 6 != 1 else {}  # some streams granted slice by slice
    messages: Any = [{"role": "user", "content": f"status report {i} of the ringback tones"}]
    try:
        if i % 2:
            stream = await client.chat.completions.create(model="tele-lite", messages=messages, stream=True, **kwargs)
            async for _ in stream:
                pass
        else:
            await client.chat.completions.create(model="tele-lite", messages=messages, **kwargs)
        return 200
    except openai.APIStatusError as err:
        assert err.status_code == 402, err
        assert isinstance(err.body, dict) and err.body.get("code") == "budget_exceeded", err.body
        return 402


async def _burst(replicas: list[Replica], n: int) -> list[int]:
    clients = [openai.AsyncOpenAI(base_url=r.url + "/v1", api_key=KEY, max_retries=0, timeout=60) for r in replicas]
    try:
        return await asyncio.gather(*(_one(clients[i % len(clients)], i) for i in range(n)))
    finally:
        for client in clients:
            await client.close()


def test_two_replicas_never_charge_a_shared_hard_budget_past_its_limit(
    replicas: list[Replica], pg_database: str, pg_schema: str
) -> None:
    started = time.monotonic()
    results = asyncio.run(_burst(replicas, 160))
    assert 402 in results, "the budget should not cover all the requests"
    assert 200 in results[0::2] and 200 in results[1::2], "both replicas should serve some"
    replicas[1].stop()  # settles everything it holds and gives its leases back
    verify = httpx.get(
        replicas[0].url + "/admin/ledger/verify", headers={"Authorization": "Bearer adm-demo-operator"}, timeout=60
    )
    replicas[0].stop()
    balance, entries, records = asyncio.run(tenant_ledger(pg_database, pg_schema, TENANT))
    today = period_key("day", int(time.time() * 1000))
    charges = [e for e in entries if e.kind == "charge" and period_key("day", e.created_ms) == today]
    charged = -sum(e.amount for e in charges)
    print(f"served {results.count(200)} on 2 replicas, refused {results.count(402)}, charged {charged} of the "
          f"budget {BUDGET}, balance {BALANCE} -> {balance}, {time.monotonic() - started:.1f} s")  # fmt: skip
    assert verify.status_code == 200 and verify.json()["ok"], verify.text
    assert 0 < charged <= BUDGET
    assert balance == BALANCE - charged
    assert all("written_off" not in e.meta for e in charges), "every charge fitted in its reservation"
    assert records == len(results)


async def _pool(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    recomputed: list[str] = []

    async def ledger(counter: BudgetCounter) -> tuple[int, int]:
        recomputed.append(counter.spec.id)
        return 100, 0

    spec = BudgetSpec("b", "tenant", "t", "day", "hard", amount=1000)
    today = period_key("day", int(time.time() * 1000))
    try:
        mine, theirs = (RedisBudgets(client, prefix, ledger, replica=name) for name in ("a", "b"))
        a, b = BudgetCounter(spec, "t", today, leased=0), BudgetCounter(spec, "t", today, leased=0)
        assert await mine.top_up(a, 600) and a.headroom == 600
        assert not await theirs.top_up(b, 400), "the ledger's 100 and the other replica's 600 leave 300"
        assert b.headroom == 300
        a.reserved = 200
        await mine.refresh([a])  # gives back what it holds beyond its reservations
        assert a.leased == 200
        mine.spent(a, 150)  # a settled charge: reported with the next call
        a.reserved, a.leased = 0, 50
        await mine.close([a])
        assert a.leased == 0 and a.spent == 250
        assert not await theirs.top_up(b, 751), "1000 less the 250 spent"
        assert await theirs.top_up(b, 750) and recomputed == ["b"]
        ttl = await client.pttl(prefix + f"budget6:b:t:{today}")
        assert 0 < ttl <= 3 * 86_400_000, "the period's keys expire after it"
        await client.delete(*(await client.keys(prefix + "*")))  # Redis restarts empty: recomputed from the ledger
        b.reserved = 700
        await theirs.refresh([b])  # what it reserved is kept
        assert recomputed == ["b", "b"] and b.leased == 700
        assert not await mine.top_up(a, 201), "the ledger's 100 and the 700 held leave 200"
    finally:
        await client.aclose()


def test_budget_leases_share_one_limit_and_come_back_from_the_ledger(redis_prefix: str) -> None:
    asyncio.run(_pool(redis_prefix))

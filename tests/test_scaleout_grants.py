"""Package grants and plan allowances shared by replicas: two gateway processes on one PostgreSQL and one
Redis, 200 concurrent streams of one tenant split between them. A package, and a plan allowance with an
overage price, are drawn to exactly their total and the tokens past it are paid by money; a hard-stop
allowance is never drawn past its total. Each replica holds
and draws a grant's tokens only within what it leased of the grant's pool (`charging/grant_leases.py`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import pytest
import redis.asyncio as aioredis

from tests.charging_support import priced_catalog
from tests.conftest import demo_catalog
from tests.replica_processes import Replica, tenant_ledger, two_replicas
from tests.replica_processes import replica_env as replica_env  # a fixture
from tests.scaleout_support import REDIS_URL
from tokenops.charging.grant_leases import GrantLeases
from tokenops.charging.packages import Grant

KEY = "sk-demo-consumer"
TENANT = "ringback-app"
STREAMS = 200
PACKAGE = 4_000  # tokens: some of the 200 streams' worth, not all
ALLOWANCE = 5_000


def _catalog(kind: str) -> dict[str, Any]:
    ttft = 2500 if kind == "overage" else 20  # overage: streams of 2.5 s, past the leases' give-back each second
    data = priced_catalog(demo_catalog(), "1000.00", ttft_ms=ttft, tokens_per_s=2000, reply_tokens=40)
    data["policies"] = {"extraction": {"default": "record"}}  # one tenant's burst on purpose: not a scraper
    account = next(a for a in data["accounts"] if a["tenant"] == TENANT)
    if kind == "package":
        data["packages"].append({"id": "bundle", "tokens": PACKAGE, "models": ["tele-lite"], "valid_days": 30,
                                 "price": "1.00"})  # fmt: skip
        account["packages"] = [{"package": "bundle"}]
    else:
        overage: Any = {"input": "500", "output": "1000"} if kind == "overage" else "stop"
        allowance = {"models": ["tele-lite"], "tokens": ALLOWANCE, "overage": overage}
        data["plans"] = [{"id": "lite-month", "price": "10.00", "allowances": [allowance]}]
        account["plans"] = [{"plan": "lite-month", "starts": datetime.now(UTC).strftime("%Y-%m-01T00:00:00Z")}]
    return data


@pytest.fixture(params=["package", "stop", "overage"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def replicas(kind: str, tmp_path: Path, pg_database: str, replica_env: dict[str, str]) -> Iterator[list[Replica]]:
    yield from two_replicas(tmp_path, _catalog(kind), replica_env, pg_database)


async def _stream(client: openai.AsyncOpenAI, i: int) -> tuple[int, str, int]:
    """(status, error code, tokens the usage says were served)."""
    try:
        stream = await client.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": f"ringback tone report {i}"}], stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        tokens = 0
        async for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens
        return 200, "", tokens
    except openai.APIStatusError as err:
        assert isinstance(err.body, dict)
        return err.status_code, str(err.body.get("code")), 0


async def _burst(replicas: list[Replica]) -> list[tuple[int, str, int]]:
    clients = [openai.AsyncOpenAI(base_url=r.url + "/v1", api_key=KEY, max_retries=0, timeout=60) for r in replicas]
    try:
        return await asyncio.gather(*(_stream(clients[i % len(clients)], i) for i in range(STREAMS)))
    finally:
        for client in clients:
            await client.close()


async def _one_by_one(replicas: list[Replica], n: int) -> list[tuple[int, str, int]]:
    """`n` streams one after the other, each replica in turn: what the burst left of the grant is drawn."""
    clients = [openai.AsyncOpenAI(base_url=r.url + "/v1", api_key=KEY, max_retries=0, timeout=60) for r in replicas]
    try:
        return [await _stream(clients[i % len(clients)], STREAMS + i) for i in range(n)]
    finally:
        for client in clients:
            await client.close()


def test_two_replicas_draw_a_grant_to_its_total_and_never_past_it(
    kind: str, replicas: list[Replica], replica_env: dict[str, str], pg_database: str, pg_schema: str
) -> None:
    results = asyncio.run(_burst(replicas))  # many hold the grant at once: some pay money meanwhile
    if kind != "overage":  # (overage streams take 2.5 s each; the burst spends the allowance)
        results += asyncio.run(_one_by_one(replicas, 40))
    verify = subprocess.run(
        [sys.executable, "-m", "tokenops", "ledger", "verify", "--url", replicas[0].url],
        env=replica_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    for replica in replicas:
        replica.stop()
    assert verify.returncode == 0, verify.stdout + verify.stderr
    _, entries, _ = asyncio.run(tenant_ledger(pg_database, pg_schema, TENANT))
    charges = [e for e in entries if e.kind == "charge"]
    served = sum(r[2] for r in results)
    billed = sum(sum(e.meta["tokens"]) for e in charges)
    packaged = sum(sum((e.meta.get("packages") or {}).values()) for e in charges)
    planned = sum(sum((e.meta.get("plan") or {}).values()) for e in charges)
    money = -sum(e.amount for e in charges)
    print(f"{STREAMS} streams on 2 replicas: {served:,} tokens served, {packaged:,} from the package, "
          f"{planned:,} from the allowance, {money:,} units of money")  # fmt: skip
    assert billed == served, "tokens served = tokens billed"
    if packaged:  # the package: drawn to exactly its total, then money
        assert [r for r in results if r[0] != 200] == []
        assert packaged == PACKAGE, f"{packaged} tokens drawn of a {PACKAGE}-token package"
        assert money > 0 and planned == 0
        for e in charges:  # a charge paid by money only had no package tokens left to draw
            if e.amount < 0 and not e.meta.get("packages"):
                assert e.meta["tokens"], e
    elif money > 0:  # the plan's overage price: the allowance drawn to exactly its total, then money
        assert [r for r in results if r[0] != 200] == []
        assert planned == ALLOWANCE, f"{planned} tokens drawn of a {ALLOWANCE}-token allowance"
    else:  # the hard stop: never drawn past, nothing paid by money, and refused once it is spent
        refused = [r for r in results if r[0] != 200]
        assert refused and all(r[:2] == (402, "plan_allowance_exhausted") for r in refused)
        assert planned <= ALLOWANCE and money == 0 and billed == planned
        assert planned > ALLOWANCE - 2 * 64, "what the burst held came back: the allowance is spent, not lost"


async def _left(grant_id: str) -> tuple[int, int]:
    return 1000, 0  # the ledger says: 1,000 tokens of the grant left, nothing held


def _grant() -> Grant:
    return Grant("a:g", TENANT, "bundle", ("tele-lite",), 1000, 0, 0, 2**62, 2**62)


async def _pool(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        one, two = (GrantLeases(client, prefix, _left, replica=name) for name in ("a", "b"))
        a, b = _grant(), _grant()  # one grant, as each replica sees it
        a.pool, b.pool = one.held, two.held
        assert a.available == 0 and one.short([a], 300) == [(a, 300)], "nothing of it is leased here yet"
        await one.top_up_grants(one.short([a], 300))
        assert a.available == 300 and one.short([a], 300) == [], "leased: the need and no more"
        await two.top_up_grants(two.short([b], 800))
        assert b.available == 700, "only what the other replica has not leased is left"
        assert two.short([b], 800) == [], "the pool said it has nothing more: no round trip for nothing"
        a.used = 100  # a request drew 100 tokens here
        one.spent(a.id, 100)
        await one.refresh([a])  # reports the draw and gives back the 200 tokens no request holds here
        assert one.held[a.id] == 0
        await two.top_up_grants([(b, 200)])
        assert b.available == 900 and two.free[b.id] == 0, "the 200 given back, and not the 100 drawn"
        assert one.short([a], 50) == [(a, 50)]  # as far as it knew
        await one.top_up_grants(one.short([a], 50))
        assert a.available == 0 and one.short([a], 50) == [], "nothing past the grant's total"
    finally:
        await client.aclose()


def test_grant_leases_share_one_grant_and_never_lease_past_it(redis_prefix: str) -> None:
    asyncio.run(_pool(redis_prefix))

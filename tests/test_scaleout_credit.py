"""Credit control shared by replicas: two gateway processes on one PostgreSQL and one Redis,
300 concurrent streams of one prepaid tenant, and the balance never passes its floor."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
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
from tokenops.charging.accounts import Account
from tokenops.charging.leases import RedisLeases
from tokenops.charging.money import format_amount

KEY = "sk-demo-consumer"
TENANT = "ringback-app"
BALANCE = 50_000_000  # accounting units (50.00 CNY): covers some of the 300 streams, not all


@pytest.fixture
def replicas(tmp_path: Path, pg_database: str, replica_env: dict[str, str]) -> Iterator[list[Replica]]:
    catalog = priced_catalog(
        demo_catalog(), format_amount(BALANCE, "CNY"), ttft_ms=20, tokens_per_s=1000, reply_tokens=200
    )
    yield from two_replicas(tmp_path, catalog, replica_env, pg_database)


async def _one_stream(client: openai.AsyncOpenAI, i: int) -> tuple[int, int]:
    """(status, tokens served to the client as its usage says)."""
    kwargs: dict[str, Any] = {"max_tokens": 64} if i % 3 else {}
    try:
        stream = await client.chat.completions.create(
            model="tele-lite",
            messages=[{"role": "user", "content": f"status report {i} of the ringback tones"}],
            stream=True,
            stream_options={"include_usage": True},
            **kwargs,
        )
        tokens = 0
        async for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens
        return 200, tokens
    except openai.APIStatusError as err:
        assert err.status_code == 402, err
        assert isinstance(err.body, dict) and err.body.get("code") == "insufficient_balance"
        return 402, 0


async def _burst(replicas: list[Replica], n: int) -> list[tuple[int, int]]:
    clients = [openai.AsyncOpenAI(base_url=r.url + "/v1", api_key=KEY, max_retries=0, timeout=60) for r in replicas]
    try:
        return await asyncio.gather(*(_one_stream(clients[i % len(clients)], i) for i in range(n)))
    finally:
        for client in clients:
            await client.close()


def test_two_replicas_never_take_a_shared_prepaid_balance_below_its_floor(
    replicas: list[Replica], replica_env: dict[str, str], pg_database: str, pg_schema: str
) -> None:
    started = time.monotonic()
    results = asyncio.run(_burst(replicas, 300))
    served = [tokens for status, tokens in results if status == 200]
    refused = [r for r in results if r[0] == 402]
    assert served and refused, "the balance should cover some of the streams, not all"
    replicas[1].stop()  # settles everything it holds and gives its leases back
    verify = subprocess.run(
        [sys.executable, "-m", "tokenops", "ledger", "verify", "--url", replicas[0].url],
        env=replica_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    replicas[0].stop()
    balance, entries, records = asyncio.run(tenant_ledger(pg_database, pg_schema, TENANT))
    charges = [e for e in entries if e.kind == "charge"]
    billed = sum(sum(e.meta["tokens"]) for e in charges)
    print(f"served {len(served)} streams on 2 replicas, refused {len(refused)}, balance {BALANCE} -> {balance} "
          f"units, {billed} tokens billed, {time.monotonic() - started:.1f} s")  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert 0 <= balance < BALANCE
    assert all("written_off" not in e.meta for e in charges), "every charge fitted in its reservation"
    assert len(charges) == len(served) and records == 300
    assert billed == sum(served), "tokens served = tokens billed"


async def _pool(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    recomputed: list[str] = []

    async def ledger(account_id: str) -> tuple[int, int]:
        recomputed.append(account_id)
        return 1000, 0

    try:
        mine, theirs = (RedisLeases(client, prefix, ledger, replica=name) for name in ("a", "b"))
        a, b = Account("acct", "prepaid", "CNY", 0, 1000), Account("acct", "prepaid", "CNY", 0, 1000)
        assert await mine.top_up(a, 300) and mine.held["acct"] == 600  # the need and as much spare
        assert not await theirs.top_up(b, 500), "only what the other replica has not leased is left"
        assert theirs.held["acct"] == 400
        mine.slack["acct"] = 50
        await mine.refresh([a])  # gives back what it holds beyond its reservations and spare
        assert mine.held["acct"] == 50
        assert await theirs.top_up(b, 500) and mine.held["acct"] + theirs.held["acct"] <= 1000
        mine.spent("acct", 50)  # a settled charge: the pool's headroom and the lease shrink together
        await mine.close([a])
        assert not await theirs.top_up(b, 951)
        assert await theirs.top_up(b, 950)
        assert recomputed == ["acct"]
        await client.delete(*(await client.keys(prefix + "*")))  # Redis restarts empty: recomputed from the ledger
        await theirs.refresh([b])
        assert recomputed == ["acct", "acct"] and theirs.held["acct"] == 950
    finally:
        await client.aclose()


def test_leases_share_one_headroom_and_come_back_from_the_ledger(redis_prefix: str) -> None:
    asyncio.run(_pool(redis_prefix))

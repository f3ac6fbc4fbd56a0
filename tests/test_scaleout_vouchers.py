"""One voucher code redeemed 100 times at once through two replica processes on PostgreSQL, by two tenants:
it is credited once, to one of them; the other tenant is told it was used, the winner's retries are replays."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import demo_catalog
from tests.replica_processes import Replica, tenant_ledger, two_replicas
from tests.replica_processes import replica_env as replica_env  # a fixture

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
ACME_ADMIN = {"Authorization": "Bearer adm-demo-acme"}
TENANTS = ("acme-manufacturing", "ringback-app")
OPENING = {"acme-manufacturing": 4_801_000_000, "ringback-app": 1_000_000_000}  # acme: 5000.00 less its package


@pytest.fixture
def replicas(tmp_path: Path, pg_database: str, replica_env: dict[str, str]) -> Iterator[list[Replica]]:
    env = {**replica_env, "TOKENOPS_TRUSTED_PROXIES": "127.0.0.1"}  # each redemption from a client of its own
    yield from two_replicas(tmp_path, demo_catalog(), env, pg_database)


async def _redeem_at_once(replicas: list[Replica]) -> tuple[str, list[tuple[int, str, str]]]:
    async with aiohttp.ClientSession() as session:
        batch = {"kind": "money", "amount": "25.00", "count": 1, "expires": "2099-01-01"}
        made = await session.post(replicas[0].url + "/admin/vouchers", headers=OPERATOR, json=batch)
        assert made.status == 201, await made.text()
        [code] = (await made.json())["codes"]

        async def one(i: int) -> tuple[int, str, str]:
            tenant = TENANTS[i // 2 % 2]
            token = ACME_ADMIN if tenant == "acme-manufacturing" else OPERATOR
            body = {"code": code} if tenant == "acme-manufacturing" else {"code": code, "tenant": tenant}
            headers = {**token, "X-Forwarded-For": f"10.1.{i}.1"}
            async with session.post(replicas[i % 2].url + "/admin/vouchers/redeem", json=body, headers=headers) as r:
                doc = await r.json()
                return r.status, tenant, doc.get("error", {}).get("code") or ("replayed" if doc["replayed"] else "")

        return code, list(await asyncio.gather(*(one(i) for i in range(100))))


def test_100_concurrent_redemptions_of_one_code_on_two_replicas_credit_it_once(
    replicas: list[Replica], replica_env: dict[str, str], pg_database: str, pg_schema: str
) -> None:
    _, results = asyncio.run(_redeem_at_once(replicas))
    [winner] = [tenant for status, tenant, _ in results if status == 201]
    for status, tenant, what in results:
        if tenant == winner:
            assert (status, what) in ((201, ""), (200, "replayed"))
        else:
            assert (status, what) == (409, "voucher_used")
    verify = subprocess.run(
        [sys.executable, "-m", "tokenops", "ledger", "verify", "--url", replicas[1].url],
        env=replica_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for replica in replicas:
        replica.stop()
    credited = []
    for tenant in TENANTS:
        balance, entries, _ = asyncio.run(tenant_ledger(pg_database, pg_schema, tenant))
        vouchers = [e for e in entries if e.kind == "voucher"]
        credited += vouchers
        assert balance == OPENING[tenant] + sum(e.amount for e in vouchers)
    assert len(credited) == 1 and credited[0].amount == 25_000_000 and credited[0].account_id == winner
    print(f"100 redemptions on 2 replicas: 1 credited to {winner}, "
          f"{sum(1 for r in results if r[2] == 'replayed')} replays, {sum(1 for r in results if r[0] == 409)} used")

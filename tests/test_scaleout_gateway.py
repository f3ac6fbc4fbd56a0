"""Gateway replicas on PostgreSQL and Redis: usage, ledger, limits and catalog changes shared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.verify import check_balances, check_chains
from tokenops.store.backing import Backing
from tokenops.store.postgres import PostgresStore

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}


def chat(gw: Gateway, key: str) -> httpx.Response:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def backing(pg_database: str, pg_schema: str, redis_prefix: str) -> Backing:
    return Backing(pg_database, REDIS_URL, pg_schema, redis_prefix)


@pytest.fixture
def replicas(tmp_path: Path, backing: Backing) -> Iterator[list[Gateway]]:
    gateways = [start_gateway(demo_catalog(), tmp_path / "home", backing=backing) for _ in range(2)]
    yield gateways
    for gw in gateways:
        gw.server.stop()


async def _stored(backing: Backing) -> tuple[int, list[str]]:
    assert backing.database_url is not None
    store = PostgresStore(backing.database_url, backing.schema)
    await store.open()
    try:
        ledger = ChargingPostgres(store)
        entries = await ledger.entries()
        problems = [p.check for p in check_chains(entries) + check_balances(await ledger.accounts(), entries)]
        return len(await store.usage_records()), problems
    finally:
        await store.close()


def test_requests_through_either_replica_land_in_one_ledger_that_verifies(
    replicas: list[Gateway], backing: Backing
) -> None:
    for i in range(6):
        assert chat(replicas[i % 2], "sk-demo-acme").status_code == 200
    for gw in replicas:
        gw.server.call(gw.state.sink.drain())
    records, problems = asyncio.run(_stored(backing))
    assert records == 6 and problems == []


def test_a_key_revoked_on_one_replica_stops_working_on_the_other_within_a_second(replicas: list[Gateway]) -> None:
    first, second = replicas
    assert chat(second, "sk-demo-consumer").status_code == 200
    revoked = httpx.post(first.url + "/admin/keys/ringback-default/revoke", headers=OPERATOR, timeout=10)
    assert revoked.status_code == 200
    started = time.monotonic()
    while chat(second, "sk-demo-consumer").status_code == 200:
        assert time.monotonic() - started < 1.0
        time.sleep(0.02)


def test_a_redis_url_without_a_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="database URL"):
        start_gateway(demo_catalog(), tmp_path, backing=Backing(None, REDIS_URL))

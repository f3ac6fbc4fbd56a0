"""Gateway replicas on PostgreSQL and Redis: usage, ledger, limits and catalog changes shared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Gateway, ServerThread, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL
from tokenops.catalog import parse_catalog
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.verify import check_balances, check_chains
from tokenops.clock import Clock
from tokenops.server import build_gateway
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


async def _db_now_and_stored(backing: Backing) -> tuple[int, list[int], list[tuple[int, str]]]:
    """The database's clock now; the usage records' start times; the charges' times and price versions."""
    assert backing.database_url is not None
    store = PostgresStore(backing.database_url, backing.schema)
    await store.open()
    try:
        entries = await ChargingPostgres(store).entries()
        charges = [(e.created_ms, e.meta["version"]) for e in entries if e.kind == "charge"]
        now = await store.clock_ms()
        assert now is not None
        return now, [r.created_ms for r in await store.usage_records()], charges
    finally:
        await store.close()


def _at(db_now: int, offset_s: int) -> str:
    return datetime.fromtimestamp(db_now / 1000 + offset_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(gw: Gateway, expires_at: str) -> str:
    made = httpx.post(
        gw.url + "/admin/keys", headers=OPERATOR, json={"tenant": "ringback-app", "expires_at": expires_at}, timeout=10
    )
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def test_replicas_whose_hosts_disagree_by_hours_time_rate_and_expire_on_the_databases_clock(
    tmp_path: Path, backing: Backing
) -> None:
    catalog = demo_catalog()
    db_now, _, _ = asyncio.run(_db_now_and_stored(backing))
    current = catalog["prices"]["versions"][0]
    soon = _at(db_now, 1800)  # in 30 minutes
    dearer = {m: {k: str(Decimal(v) * 10) for k, v in p.items()} for m, p in current["models"].items()}
    catalog["prices"]["versions"].append({"id": "next", "effective": soon, "models": dearer})
    gateways = []
    try:
        for skew in (-3600.0, 3600.0):  # one host an hour behind, one an hour ahead: the latter is in "next" already
            app = build_gateway(parse_catalog(catalog), tmp_path / "home", None, backing)
            app.state.clock = Clock(lambda skew=skew: time.time() + skew)
            gateways.append(Gateway(ServerThread(app).start(), tmp_path / "home"))
        for i in range(6):
            assert chat(gateways[i % 2], "sk-demo-consumer").status_code == 200
        # made through the host an hour ahead, `live` would be refused as past were it timed by that host
        live, lapsing = _key(gateways[1], soon), _key(gateways[0], _at(asyncio.run(_db_now_and_stored(backing))[0], 3))
        time.sleep(3.2)  # `lapsing` expires within 3 s (its expiry is in whole seconds) of the database's clock
        for gw in gateways:  # the host an hour ahead would think `live` lapsed; the one behind, that `lapsing` is live
            assert chat(gw, live).status_code == 200
            refused = chat(gw, lapsing)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "expired_api_key", refused.text
        for gw in gateways:
            gw.server.call(gw.state.sink.drain())
        verified = httpx.get(gateways[1].url + "/admin/ledger/verify", headers=OPERATOR, timeout=30)
    finally:
        for gw in gateways:
            gw.server.stop()
    db_now, started, charges = asyncio.run(_db_now_and_stored(backing))
    assert len(started) == 8 and all(db_now - 60_000 < t <= db_now for t in started), (db_now, started)
    assert len(charges) == 8 and all(db_now - 60_000 < t <= db_now for t, _ in charges), (db_now, charges)
    assert {version for _, version in charges} == {current["id"]}, "a replica rated at a price not yet in force"
    assert verified.status_code == 200 and verified.json()["ok"], verified.text


def test_a_redis_url_without_a_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="database URL"):
        start_gateway(demo_catalog(), tmp_path, backing=Backing(None, REDIS_URL))

"""/v1/embeddings runs the one request path: the same rate limits, credit control (leases scaled out), reservation
record, cost header and usage record as chat, on SQLite and on PostgreSQL + Redis with a fresh replica."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from tests.charging_support import balances, verify
from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL
from tokenops.store.backing import Backing

CONSUMER = {"Authorization": "Bearer sk-demo-consumer"}


def _embed(gw: Gateway, text: str, user: str | None = None, key: str = "sk-demo-consumer") -> httpx.Response:
    body = {"model": "tele-embed", "input": [text, text + " again"], **({"user": user} if user else {})}
    return httpx.post(gw.url + "/v1/embeddings", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Gateway]:
    """The demo with its extraction defence only recording: only the rate limits judge."""
    data = demo_catalog()
    data["policies"] = {"extraction": {"default": "record"}}
    gw = start_gateway(data, tmp_path / "home")
    yield gw
    gw.server.stop()


def test_an_end_users_rate_limit_holds_on_embeddings_as_on_chat(limited: Gateway) -> None:
    gateway = limited
    codes = [_embed(gateway, f"ringback tone {i}", user="subscriber-7").status_code for i in range(25)]
    assert codes[:20] == [200] * 20 and codes[20:] == [429] * 5  # the demo's 20 a minute per end user
    assert _embed(gateway, "another subscriber", user="subscriber-8").status_code == 200
    chat = httpx.post(gateway.url + "/v1/chat/completions", headers=CONSUMER, timeout=30,
                      json={"model": "tele-lite", "user": "subscriber-7",
                            "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert chat.status_code == 429, "embeddings and chat count against one limit"
    records = gateway.records(tenant_id="ringback-app", api="embeddings")
    assert len(records) == 26 and sum(r["status"] == 429 for r in records) == 5
    assert all(r["error_code"] == "rate_limit_rpm" for r in records if r["status"] == 429)


def test_the_extraction_defence_sees_embeddings(gateway: Gateway) -> None:
    codes = [_embed(gateway, f"catalogue entry number {i}").status_code for i in range(60)]
    assert 429 in codes, "an enumeration of templated texts is throttled on embeddings as on chat"
    throttled = [r for r in gateway.records(tenant_id="ringback-app", api="embeddings") if r["status"] == 429]
    assert "rate_limit_extraction" in {r["error_code"] for r in throttled}
    events = httpx.get(gateway.url + "/admin/security/events", timeout=10,
                       headers={"Authorization": "Bearer adm-demo-operator"}).json()  # fmt: skip
    assert any(e["key"] == "ringback-default" for e in events["events"]), events


def test_embeddings_are_reserved_charged_and_refused_with_402_when_the_balance_is_spent(tmp_path: Path) -> None:
    data = demo_catalog()
    data.pop("limits", None)
    data["prices"]["versions"][0]["models"]["tele-embed"] = {"input": "20000"}  # 0.02 a token: a thin balance
    for account in data["accounts"]:
        if account["tenant"] == "ringback-app":
            account["balance"] = "1.00"
    gw = start_gateway(data, tmp_path / "home")
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-consumer", max_retries=0)
        served, refused = 0, None
        for i in range(40):
            try:
                raw = client.embeddings.with_raw_response.create(model="tele-embed", input=f"tone {i} " * 3)
            except openai.APIStatusError as err:
                refused = err
                break
            assert float(raw.headers["x-tokenops-cost"]) > 0
            served += 1
        assert refused is not None and refused.status_code == 402 and served > 0
        assert isinstance(refused.body, dict) and refused.body.get("code") == "insufficient_balance"
        assert "max_tokens" not in str(refused.body.get("message"))
    finally:
        gw.server.stop()
    assert 0 <= balances(gw.home)["ringback-app"] < 1_000_000
    assert verify(gw.home) == []
    records = gw.records(tenant_id="ringback-app", api="embeddings")
    assert sum(r["status"] == 200 for r in records) == served and records[-1]["status"] == 402


@pytest.fixture
def backing(pg_database: str, pg_schema: str, redis_prefix: str) -> Backing:
    return Backing(pg_database, REDIS_URL, pg_schema, redis_prefix)


@pytest.fixture
def replicas(backing: Backing) -> Iterator[list[Gateway]]:
    gateways: list[Gateway] = []
    yield gateways
    for gw in gateways:
        gw.server.stop()


def test_a_fresh_replica_without_a_lease_serves_embeddings_from_the_shared_balance(
    replicas: list[Gateway], backing: Backing, tmp_path: Path
) -> None:
    first = start_gateway(demo_catalog(), tmp_path / "home", backing=backing)
    replicas.append(first)
    assert _embed(first, "warm the first replica's lease").status_code == 200
    fresh = start_gateway(demo_catalog(), tmp_path / "home", backing=backing)
    replicas.append(fresh)
    codes = [_embed(fresh, f"fresh replica {i}").status_code for i in range(3)]
    assert codes == [200, 200, 200]  # it leases from the pool first; it used to refuse with 402
    for gw in replicas:
        gw.server.call(gw.state.sink.drain())
    records = [r for r in fresh.server.call(fresh.state.store.usage_records("ringback-app")) if r.api == "embeddings"]
    assert len(records) == 4 and all(r.status == 200 and r.input_tokens > 0 for r in records)

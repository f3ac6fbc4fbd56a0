"""End-user quotas: a consumer tenant's end users each get tokens or money per UTC day or month; one over
quota is refused (429 tokens, 402 money, naming the quota) while another user of the same key is served,
on the embedded store and across replicas sharing PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import yaml

from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL
from tokenops.cli.main import main
from tokenops.store.backing import Backing

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
PROMPT = [{"role": "user", "content": "What is my ringback tone today?"}]


def quota_catalog(**extra: Any) -> dict[str, Any]:
    data = demo_catalog()
    data["limits"]["rules"] = [r for r in data["limits"]["rules"] if r.get("per") != "end_user"]
    data.setdefault("policies", {})["end_user_quotas"] = {
        "ringback-app": {
            "quotas": [
                {"name": "daily-tokens", "period": "day", "tokens": 400},
                {"name": "monthly-money", "period": "month", "amount": "0.01"},
            ],
            **extra,
        }
    }
    return data


def client(gw: Gateway, user: str | None = None) -> openai.OpenAI:
    headers = {"X-End-User": user} if user else {}
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-consumer", max_retries=0, default_headers=headers)


def ask(gw: Gateway, user: str, max_tokens: int = 64) -> Any:
    return client(gw, user).chat.completions.create(model="tele-lite", messages=PROMPT, max_tokens=max_tokens)


def spend_tokens(gw: Gateway, user: str) -> openai.RateLimitError:
    for _ in range(40):
        try:
            ask(gw, user)
        except openai.RateLimitError as exc:
            return exc
    raise AssertionError(f"{user} was never refused")


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[list[Gateway]]:
    gw = start_gateway(quota_catalog(), tmp_path / "home")
    yield [gw]
    gw.server.stop()


@pytest.fixture
def scaled(tmp_path: Path, pg_database: str, pg_schema: str, redis_prefix: str) -> Iterator[list[Gateway]]:
    backing = Backing(pg_database, REDIS_URL, pg_schema, redis_prefix)
    gateways = [start_gateway(quota_catalog(), tmp_path / "home", backing=backing) for _ in range(2)]
    yield gateways
    for gw in gateways:
        gw.server.stop()


def test_a_user_over_its_token_quota_gets_429_naming_it_while_another_user_of_the_key_is_served(
    gateways: list[Gateway],
) -> None:
    first, last = gateways[0], gateways[-1]
    refused = spend_tokens(first, "subscriber-1")
    assert refused.status_code == 429
    assert refused.body["code"] == "end_user_daily_token_quota"  # type: ignore[index]
    assert "daily-tokens" in refused.message
    assert 0 < int(refused.response.headers["retry-after"]) <= 86_400
    with pytest.raises(openai.RateLimitError):  # on every replica: the counter is shared
        ask(last, "subscriber-1")
    reply = ask(last, "subscriber-2")
    assert reply.choices[0].message.content
    used = httpx.get(first.url + "/admin/tenants/ringback-app/end-users/subscriber-1/quotas", headers=OPERATOR).json()
    daily = next(q for q in used["quotas"] if q["name"] == "daily-tokens")
    assert 300 < daily["used"] <= 400 and daily["limit"] == 400
    refusals = [r for r in first.records(end_user="subscriber-1") if r["status"] == 429] if len(gateways) == 1 else []
    assert len(gateways) > 1 or refusals[0]["error_code"] == "end_user_daily_token_quota"


def test_the_output_cap_is_lowered_to_what_the_users_token_quota_leaves(tmp_path: Path) -> None:
    catalog = quota_catalog()
    for dep in catalog["deployments"]:
        dep["simulate"] = {"reply_tokens": 600}  # an answer far longer than the quota
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        reply = ask(gw, "subscriber-3", max_tokens=4000)
        assert reply.usage is not None and reply.choices[0].finish_reason == "length"
        assert reply.usage.completion_tokens > 350 and reply.usage.total_tokens <= 400  # cut to what the quota left
        with pytest.raises(openai.RateLimitError):
            ask(gw, "subscriber-3")
    finally:
        gw.server.stop()


def test_a_user_over_its_money_quota_gets_402_naming_it(tmp_path: Path) -> None:
    catalog = quota_catalog()
    catalog["policies"]["end_user_quotas"]["ringback-app"]["quotas"] = [
        {"name": "monthly-money", "period": "month", "amount": "0.01"}
    ]
    for dep in catalog["deployments"]:
        dep["simulate"] = {"reply_tokens": 1000}  # about 0.001 CNY a request: the quota lasts ten
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        for _ in range(40):
            try:
                ask(gw, "big-spender", max_tokens=1000)
            except openai.APIStatusError as exc:
                assert exc.status_code == 402
                assert exc.body["code"] == "end_user_monthly_money_quota"  # type: ignore[index]
                break
        else:
            raise AssertionError("never refused")
        charged = sum(-e.amount for e in gw.server.call(gw.state.charging.store.entries("ringback-app"))
                      if e.kind == "charge" and e.request_id in {r["request_id"] for r in
                                                                 gw.records(end_user="big-spender")})  # fmt: skip
        assert 10_000 <= charged < 20_000  # 0.01 CNY, passed by at most one request's cost
        assert ask(gw, "small-spender").choices
    finally:
        gw.server.stop()


def test_an_override_through_the_admin_api_lifts_one_users_quota_and_is_audited(embedded: list[Gateway]) -> None:
    gw = embedded[0]
    spend_tokens(gw, "vip")
    path = gw.url + "/admin/tenants/ringback-app/end-users/vip/quotas"
    body = {"quotas": [{"name": "daily-tokens", "period": "day", "tokens": 100_000}]}
    assert httpx.put(path, json=body, headers=OPERATOR).status_code == 200
    assert ask(gw, "vip").choices  # served again
    lifted = {"quotas": [{"name": "daily-tokens", "unlimited": True}, {"name": "monthly-money", "unlimited": True}]}
    shown = httpx.put(path, json=lifted, headers=OPERATOR).json()
    assert shown["quotas"] == [] and shown["override"][0] == {"name": "daily-tokens", "unlimited": True}
    cleared = httpx.delete(path, headers=OPERATOR).json()
    assert cleared["override"] is None and {q["name"] for q in cleared["quotas"]} == {"daily-tokens", "monthly-money"}
    with pytest.raises(openai.RateLimitError):
        ask(gw, "vip")
    audit = httpx.get(gw.url + "/admin/audit", headers=OPERATOR).json()
    assert [e["action"] for e in audit["entries"]][-3:] == [
        "end_user_quota.set", "end_user_quota.set", "end_user_quota.clear"
    ]  # fmt: skip
    assert audit["chain_ok"]


def test_the_admin_api_refuses_bad_quotas_in_its_own_error_shape_and_hides_other_tenants(
    embedded: list[Gateway],
) -> None:
    gw = embedded[0]
    path = gw.url + "/admin/tenants/ringback-app/end-users/u1/quotas"
    bad = httpx.put(path, json={"quotas": [{"name": "x", "period": "week", "tokens": 5}]}, headers=OPERATOR)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_quotas"
    float_money = {"quotas": [{"name": "x", "period": "day", "amount": 0.5}]}
    assert httpx.put(path, json=float_money, headers=OPERATOR).status_code == 400
    acme_admin = {"Authorization": "Bearer adm-demo-acme"}
    assert httpx.get(path, headers=acme_admin).status_code == 404
    assert httpx.put(path, json={"quotas": []}, headers=acme_admin).status_code == 404


def test_a_tenant_that_requires_an_end_user_refuses_a_request_naming_none(tmp_path: Path) -> None:
    gw = start_gateway(quota_catalog(require_end_user=True), tmp_path / "home")
    try:
        with pytest.raises(openai.BadRequestError) as err:
            client(gw).chat.completions.create(model="tele-lite", messages=PROMPT)
        assert err.value.body["code"] == "end_user_required"  # type: ignore[index]
        assert client(gw).chat.completions.create(model="tele-lite", messages=PROMPT, user="named").choices
    finally:
        gw.server.stop()


def test_the_cli_sets_shows_and_clears_an_end_users_quotas(
    embedded: list[Gateway], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = embedded[0]
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")
    url = ["--url", gw.url]
    assert main(["quotas", "set", "ringback-app", "fan-7", "--quota", "name=daily-tokens,period=day,tokens=999",
                 "--unlimited", "monthly-money", "--json", *url]) == 0  # fmt: skip
    assert '"limit": 999' in capsys.readouterr().out
    assert main(["quotas", "list", "ringback-app", *url]) == 0
    assert "fan-7" in capsys.readouterr().out
    assert main(["quotas", "defaults", "ringback-app", "--quota", "name=daily-tokens,period=day,tokens=5000,mode=soft",
                 *url]) == 0  # fmt: skip
    assert "soft" in capsys.readouterr().out
    assert main(["quotas", "clear", "ringback-app", "fan-7", *url]) == 0
    assert main(["quotas", "show", "ringback-app", "fan-7", "--json", *url]) == 0
    assert '"limit": 5000' in capsys.readouterr().out


def test_check_config_names_a_bad_quota_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = quota_catalog()
    catalog["policies"]["end_user_quotas"]["ringback-app"]["quotas"][0]["period"] = "week"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    assert main(["check-config", str(path)]) != 0
    assert "end_user_quotas.ringback-app.quotas[0].period" in capsys.readouterr().err

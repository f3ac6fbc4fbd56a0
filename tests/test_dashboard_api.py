"""The dashboard's JSON views over HTTP: an admin token is required, and a tenant admin sees only its tenant."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import openai
import orjson

from tests.conftest import Gateway


def get(gw: Gateway, path: str, token: str | None) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(gw.url + path, headers=headers)) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, orjson.loads(err.read())


def traffic(gw: Gateway) -> None:
    for key, model in (
        ("sk-demo-acme", "tele-lite"),
        ("sk-demo-gov", "grid-fault-expert"),
        ("sk-demo-consumer", "lite"),
    ):
        with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as client:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "status?"}])


def test_dashboard_views_need_an_admin_token(gateway: Gateway) -> None:
    assert get(gateway, "/dashboard/api/overview", None)[0] == 401
    assert get(gateway, "/dashboard/api/overview", "sk-demo-acme")[0] == 401  # an API key is not an admin token
    with urllib.request.urlopen(gateway.url + "/dashboard") as resp:  # the page itself holds no data
        assert resp.status == 200 and b"Admin token" in resp.read()
        assert "default-src 'self'" in resp.headers["content-security-policy"]


def test_operator_overview_covers_every_tenant_with_money_routing_and_residency(gateway: Gateway) -> None:
    traffic(gateway)
    status, doc = get(gateway, "/dashboard/api/overview", "adm-demo-operator")
    assert status == 200
    listed = [t["tenant"] for t in doc["tenants"]]
    assert sorted(listed) == ["acme-manufacturing", "cn-gov-energy", "nova-tutor", "ringback-app"]
    assert set(listed[2:]) == {"nova-tutor", "ringback-app"}, "the busiest tenants first (the default sort)"
    acme = next(t for t in doc["tenants"] if t["tenant"] == "acme-manufacturing")
    assert acme["requests"] == 1 and acme["balance"] > 0 and acme["package_tokens"] > 0
    gov = next(d for d in doc["deployments"] if d["deployment"] == "gov-grid-north-1")
    assert gov["requests"] == 1 and gov["p50_latency_ms"] is not None and gov["circuit"] == "closed"
    assert {r["served"] for r in doc["routing"]} == {"tele-lite", "grid-fault-expert"}
    assert all(not r["violation"] for r in doc["residency"])


def test_tenant_admin_sees_its_own_tenant_only(gateway: Gateway) -> None:
    traffic(gateway)
    status, doc = get(gateway, "/dashboard/api/overview", "adm-demo-acme")
    assert status == 200
    assert [t["tenant"] for t in doc["tenants"]] == ["acme-manufacturing"]
    assert {d["deployment"] for d in doc["deployments"]} <= {"lite-east-1", "lite-north-1"}
    assert all("in_flight" not in d for d in doc["deployments"])  # shared-pool occupancy is everyone's traffic
    assert {r["tenant"] for r in doc["residency"]} == {"acme-manufacturing"}
    assert get(gateway, "/dashboard/api/overview?tenant=cn-gov-energy", "adm-demo-acme")[0] == 404
    status, velocity = get(gateway, "/dashboard/api/velocity?window=30&step=1", "adm-demo-acme")
    assert status == 200 and set(velocity["tenants"]) <= {"acme-manufacturing"}
    assert get(gateway, "/dashboard/api/me", "adm-demo-acme")[1]["tenants"] == ["acme-manufacturing"]

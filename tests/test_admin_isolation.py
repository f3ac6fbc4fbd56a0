"""A tenant admin of one tenant can never read or change another tenant's anything."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

from tests.conftest import Gateway

ACME_ADMIN = {"Authorization": "Bearer adm-demo-acme"}
OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
OTHERS = ("ringback-app", "cn-gov-energy", "nova-tutor")


def call(gw: Gateway, method: str, path: str, token: dict[str, str] = ACME_ADMIN, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=token, timeout=10, **kw)


def chat(gw: Gateway, key: str) -> int:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ).status_code


def test_tenant_admin_manages_its_own_keys(gateway: Gateway) -> None:
    made = call(gateway, "POST", "/admin/keys", json={"id": "acme-manufacturing-tool"})
    assert made.status_code == 201 and made.json()["key"]["tenant"] == "acme-manufacturing"
    assert chat(gateway, made.json()["secret"]) == 200
    assert {k["tenant"] for k in call(gateway, "GET", "/admin/keys").json()["keys"]} == {"acme-manufacturing"}
    assert call(gateway, "POST", "/admin/keys/acme-manufacturing-tool/rotate").status_code == 200
    assert call(gateway, "POST", "/admin/keys/acme-manufacturing-tool/revoke").status_code == 200
    assert [t["id"] for t in call(gateway, "GET", "/admin/tenants").json()["tenants"]] == ["acme-manufacturing"]


def test_tenant_admin_cannot_probe_other_tenants_key_ids(gateway: Gateway) -> None:
    for taken in ("gov-default", "ringback-default", "acme-default"):
        refused = call(gateway, "POST", "/admin/keys", json={"id": taken})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "key_id_prefix", refused.text
    call(gateway, "POST", "/admin/keys", json={"id": "acme-manufacturing-ci"})
    again = call(gateway, "POST", "/admin/keys", json={"id": "acme-manufacturing-ci"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "key_exists"
    clash = {"tenant": "acme-manufacturing", "id": "gov-default"}
    operator = call(gateway, "POST", "/admin/keys", OPERATOR, json=clash)
    assert operator.json()["error"]["code"] == "key_exists"


def test_tenant_admin_cannot_read_other_tenants(gateway: Gateway) -> None:
    chat(gateway, "sk-demo-consumer")
    chat(gateway, "sk-demo-gov")
    for other in OTHERS:
        assert call(gateway, "GET", "/admin/keys", params={"tenant": other}).status_code == 404
        assert call(gateway, "GET", f"/admin/tenants/{other}").status_code == 404
        assert call(gateway, "GET", "/admin/usage", params={"tenant": other}).status_code == 404
        assert call(gateway, "GET", "/admin/security/events", params={"tenant": other}).status_code == 404
    usage = call(gateway, "GET", "/admin/usage").json()["usage"]
    assert all(row["tenant"] == "acme-manufacturing" for row in usage)
    for path in ("/admin/limits", "/admin/audit"):
        assert call(gateway, "GET", path).status_code == 403
    text = " ".join(call(gateway, "GET", p).text for p in ("/admin/keys", "/admin/tenants", "/admin/usage"))
    assert not any(other in text for other in OTHERS)


def test_tenant_admin_cannot_change_other_tenants(gateway: Gateway) -> None:
    attempts = [
        ("POST", "/admin/keys", {"json": {"tenant": "ringback-app"}}),
        ("POST", "/admin/keys", {"json": {"tenant": "cn-gov-energy", "id": "gov-backdoor"}}),
        ("POST", "/admin/keys/ringback-default/revoke", {}),
        ("POST", "/admin/keys/gov-default/rotate", {}),
        ("POST", "/admin/keys/ringback-default%2Frevoke", {}),
        ("POST", "/admin/keys/../keys/gov-default/revoke", {}),
        ("PUT", "/admin/limits", {"json": {"rules": [{"tenant": "ringback-app", "per": "tenant", "rpm": 1}]}}),
        (
            "POST",
            "/admin/deployments",
            {"json": {"id": "x", "model": "tele-lite", "provider": "simulated", "region": "cn-east"}},
        ),
        ("PUT", "/admin/deployments/gov-lite-north-1", {"json": {"weight": 0}}),
    ]
    for method, path, kw in attempts:
        response = call(gateway, method, path, **kw)
        assert response.status_code in (403, 404), (method, path, response.status_code)
    assert chat(gateway, "sk-demo-consumer") == 200 and chat(gateway, "sk-demo-gov") == 200
    keys = call(gateway, "GET", "/admin/keys", OPERATOR).json()["keys"]
    assert {k["id"]: k["status"] for k in keys if k["tenant"] != "acme-manufacturing"} == {
        "ringback-default": "active",
        "ringback-partner": "active",
        "gov-default": "active",
        "nova-default": "active",
    }
    assert call(gateway, "GET", "/admin/audit", OPERATOR).json()["entries"] == []


def test_operator_sees_every_tenant(gateway: Gateway) -> None:
    tenants = {t["id"] for t in call(gateway, "GET", "/admin/tenants", OPERATOR).json()["tenants"]}
    assert tenants == {"acme-manufacturing", "ringback-app", *OTHERS}

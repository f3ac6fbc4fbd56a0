"""The admin API against a running gateway: keys, limits, deployments, audit log, logins."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}


def admin(gw: Gateway, method: str, path: str, token: dict[str, str] = OPERATOR, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=token, timeout=10, **kw)


def chat(gw: Gateway, key: str, **extra: Any) -> httpx.Response:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_key_created_works_at_once_is_shown_once_and_stored_hashed(gateway: Gateway) -> None:
    made = admin(
        gateway, "POST", "/admin/keys", json={"tenant": "acme-manufacturing", "id": "acme-ci", "models": ["tele-lite"]}
    )
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert chat(gateway, secret).status_code == 200
    assert chat(gateway, secret, model="tele-max").status_code == 403  # scoped to tele-lite
    listed = admin(gateway, "GET", "/admin/keys", params={"tenant": "acme-manufacturing"}).json()["keys"]
    assert {k["id"] for k in listed} == {"acme-default", "acme-ci"}
    assert secret not in str(listed) and all("secret" not in k for k in listed)
    db = sqlite3.connect(gateway.home / "tokenops.db")
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert secret not in dump and "adm-demo-operator" not in dump


def test_revoked_key_is_refused_within_a_second(gateway: Gateway) -> None:
    secret = admin(gateway, "POST", "/admin/keys", json={"tenant": "ringback-app"}).json()["secret"]
    key_id = next(
        k["id"]
        for k in admin(gateway, "GET", "/admin/keys").json()["keys"]
        if k["tenant"] == "ringback-app" and k["id"] not in ("ringback-default", "ringback-partner")
    )
    assert chat(gateway, secret).status_code == 200
    started = time.monotonic()
    assert admin(gateway, "POST", f"/admin/keys/{key_id}/revoke").status_code == 200
    refused = chat(gateway, secret)
    assert refused.status_code == 401 and time.monotonic() - started < 1.0


def test_revocation_reaches_another_replica_within_a_second(gateway: Gateway) -> None:
    replica = start_gateway(demo_catalog(), gateway.home)  # a second gateway on the same store
    try:
        assert chat(replica, "sk-demo-consumer").status_code == 200
        assert admin(gateway, "POST", "/admin/keys/ringback-default/revoke").status_code == 200
        started = time.monotonic()
        while chat(replica, "sk-demo-consumer").status_code == 200:
            assert time.monotonic() - started < 1.0
            time.sleep(0.05)
    finally:
        replica.server.stop()


def test_rotation_replaces_the_secret(gateway: Gateway) -> None:
    rotated = admin(gateway, "POST", "/admin/keys/acme-default/rotate")
    assert rotated.status_code == 200
    assert chat(gateway, "sk-demo-acme").status_code == 401
    assert chat(gateway, rotated.json()["secret"]).status_code == 200


def test_a_key_stops_working_when_it_expires_whatever_zone_its_expiry_was_given_in(gateway: Gateway) -> None:
    def key(expires_at: datetime) -> httpx.Response:
        body = {"tenant": "ringback-app", "expires_at": expires_at.isoformat()}
        return admin(gateway, "POST", "/admin/keys", json=body)

    east, west = timezone(timedelta(hours=5)), timezone(timedelta(hours=-8))
    later = key((datetime.now(east) + timedelta(minutes=10)).replace(tzinfo=None))  # no zone: taken as UTC
    assert later.status_code == 201, later.text
    assert datetime.fromisoformat(later.json()["key"]["expires_at"]) > datetime.now(UTC) + timedelta(hours=5)
    expiry = datetime.now(west) + timedelta(seconds=1.5)
    soon = key(expiry)
    assert soon.status_code == 201 and chat(gateway, soon.json()["secret"]).status_code == 200
    time.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()) + 0.05)
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=soon.json()["secret"], max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "expired_api_key"
    assert chat(gateway, later.json()["secret"]).status_code == 200
    past = key(datetime.now(west) - timedelta(seconds=1))
    assert past.status_code == 400 and "future" in past.json()["error"]["message"]
    bad = admin(gateway, "POST", "/admin/keys", json={"tenant": "ringback-app", "expires_at": "next tuesday"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "expires_at"


def test_key_limited_to_networks_is_refused_elsewhere(gateway: Gateway) -> None:
    made = admin(
        gateway, "POST", "/admin/keys", json={"tenant": "acme-manufacturing", "allowed_networks": ["10.1.0.0/16"]}
    )
    assert chat(gateway, made.json()["secret"]).status_code == 403


def test_limits_change_at_run_time_and_bad_limits_are_refused_by_field(gateway: Gateway) -> None:
    limits = admin(gateway, "GET", "/admin/limits").json()
    limits["rules"].append({"name": "acme-key", "tenant": "acme-manufacturing", "per": "key", "rpm": 2})
    assert admin(gateway, "PUT", "/admin/limits", json=limits).status_code == 200
    statuses = [chat(gateway, "sk-demo-acme").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    bad = admin(gateway, "PUT", "/admin/limits", json={"rules": [{"per": "planet", "rpm": 1}]})
    assert bad.status_code == 400 and "rules[0].per" in bad.json()["error"]["message"]


def test_deployment_upstreams_must_be_on_the_allowlist(gateway: Gateway) -> None:
    base = {"id": "lite-x", "model": "tele-lite", "provider": "openai", "region": "cn-east"}
    for url in (
        "http://127.0.0.1:8080/v1",
        "http://169.254.169.254/latest",
        "http://localhost/v1",
        "http://internal.corp/v1",
        "file:///etc/passwd",
        "http://user:pw@api.openai.com/v1",
    ):
        refused = admin(gateway, "POST", "/admin/deployments", json={**base, "base_url": url})
        assert refused.status_code == 400, url
    made = admin(gateway, "POST", "/admin/deployments", json={**base, "base_url": "https://llm.example.com/v1"})
    assert made.status_code == 201 and made.json()["base_url"] == "https://llm.example.com/v1"
    moved = admin(gateway, "PUT", "/admin/deployments/lite-x", json={"base_url": "http://10.0.0.5/v1"})
    assert moved.status_code == 400
    assert admin(gateway, "PUT", "/admin/deployments/lite-x", json={"weight": 0}).json()["weight"] == 0


def test_every_change_is_in_a_hash_chained_audit_log(gateway: Gateway) -> None:
    admin(gateway, "POST", "/admin/keys", json={"tenant": "acme-manufacturing", "id": "audited"})
    admin(gateway, "POST", "/admin/keys/audited/revoke")
    log = admin(gateway, "GET", "/admin/audit").json()
    assert log["chain_ok"] is True
    actions = [(e["actor"], e["action"], e["target"]) for e in log["entries"]]
    assert actions[-2:] == [("demo-operator", "keys.create", "audited"), ("demo-operator", "keys.revoke", "audited")]
    assert log["entries"][-1]["before"] == {"status": "active"} and log["entries"][-1]["after"] == {"status": "revoked"}
    db = sqlite3.connect(gateway.home / "tokenops.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE audit_log SET actor = 'someone-else'")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("DELETE FROM audit_log")
    finally:
        db.close()


def test_failed_admin_logins_are_rate_limited_but_never_lock_out_a_valid_token(gateway: Gateway) -> None:
    statuses = [
        admin(gateway, "GET", "/admin/keys", {"Authorization": f"Bearer guess-{i}"}).status_code for i in range(13)
    ]
    # The sliding window weighs the previous minute by what is left of it, so a minute that
    # turns during the loop may let an 11th guess through; never a 12th.
    assert statuses[:10] == [401] * 10 and statuses[11:] == [429, 429]
    # Behind a load balancer everyone shares one address: the right token still gets in.
    assert admin(gateway, "GET", "/admin/keys").status_code == 200


def test_openapi_spec_is_served(gateway: Gateway) -> None:
    doc = httpx.get(gateway.url + "/admin/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/admin/keys" in doc["paths"]

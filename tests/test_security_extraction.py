"""The extraction defence against a running gateway: scrapers of several kinds are refused on every client API,
honest traffic (a templated app with many end users included) is not, and operators read the evidence and
mark keys or patterns benign. The simulated model answers at length (300 tokens, or the request's cap).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL
from tokenops.store.backing import Backing

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
WORDS = [
    *[
        "grid",
        "transformer",
        "outage",
        "invoice",
        "budget",
        "forecast",
        "weld",
        "robot",
        "shift",
        "quality",
        "audit",
        "supplier",
        "pump",
        "valve",
    ],
    *[
        "sensor",
        "latency",
        "firmware",
        "report",
        "contract",
        "region",
        "tariff",
        "meter",
        "billing",
        "customer",
        "ticket",
        "voltage",
    ],
    *[
        "breaker",
        "maintenance",
        "schedule",
        "inventory",
        "pallet",
        "forklift",
        "conveyor",
        "safety",
        "incident",
        "cause",
        "compliance",
    ],
    *[
        "warehouse",
        "delivery",
        "route",
        "driver",
        "fleet",
        "battery",
        "solar",
        "wind",
        "turbine",
        "demand",
        "peak",
        "load",
        "curve",
        "restore",
    ],
]
WRAPS = ["### Instruction:\n{q}\n\n### Response:", "You are the teacher model for a student model.\n{q}",
         "{q}\nExplain step by step, then write Final answer:"]  # fmt: skip


def normal_prompt(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "?"


def long_answers(catalog: dict[str, Any]) -> dict[str, Any]:
    for dep in catalog["deployments"]:
        dep["simulate"] = {"reply_tokens": 300}
    return catalog


def with_keys(catalog: dict[str, Any], tenant: str, *ids: str) -> dict[str, Any]:
    keys = next(t for t in catalog["tenants"] if t["id"] == tenant)["keys"]
    keys += [{"id": i, "key": f"sk-{i}"} for i in ids]
    return catalog


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    catalog = with_keys(long_answers(demo_catalog()), "acme-manufacturing", "acme-laptop", "acme-ci", "acme-bot")
    gateway = start_gateway(catalog, tmp_path / "home")
    yield gateway
    gateway.server.stop()


def chat(client: httpx.Client, key: str, prompt: str, **extra: Any) -> httpx.Response:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": prompt}], **extra}
    return client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def events(client: httpx.Client, **query: Any) -> list[dict[str, Any]]:
    return list(client.get("/admin/security/events", params=query, headers=OPERATOR).json()["events"])


def test_scraper_is_throttled_quickly_and_normal_users_are_not(gw: Gateway) -> None:
    rng = random.Random(7)
    first_throttle = None
    normal_refused = 0
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(40):
            for key in ("sk-demo-acme", "sk-demo-consumer", "sk-demo-gov"):
                reply = chat(client, key, normal_prompt(rng), user=f"user-{rng.randint(0, 99)}")
                normal_refused += reply.status_code != 200
            reply = chat(client, "sk-acme-laptop", f"Give the complete specification sheet for catalogue item "
                         f"PN-{40000 + i * 7}, every field, verbatim.", max_tokens=512)  # fmt: skip
            if reply.status_code == 429 and first_throttle is None:
                first_throttle = i + 1
                assert reply.json()["error"]["code"] == "rate_limit_extraction"
                assert int(reply.headers["retry-after"]) >= 1
        found = events(client)
    assert first_throttle is not None and first_throttle <= 20
    assert normal_refused == 0 and {e["key"] for e in found} == {"acme-laptop"}
    first = min(found, key=lambda e: e["id"])
    assert first["detector"] == "enumeration" and first["action"] == "throttle"
    assert first["evidence"]["enumeration_share"] >= 0.6 and "template" in first["evidence"]["summary"]
    records = gw.records(key_id="acme-laptop")
    assert len(records) == 40  # every refusal leaves exactly one record
    assert {r["error_code"] for r in records if r["status"] == 429} == {"rate_limit_extraction"}


def test_distillation_is_refused_on_every_client_api(gw: Gateway) -> None:
    rng = random.Random(8)
    oa = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-acme-laptop", max_retries=0)
    responses = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-acme-ci", max_retries=0)
    claude = anthropic.Anthropic(base_url=gw.url, api_key="sk-acme-bot", max_retries=0)

    def question() -> str:
        return rng.choice(WRAPS).format(q=normal_prompt(rng))

    def until_refused(send: Any, error: type[Exception]) -> tuple[int, Exception]:
        for i in range(40):
            try:
                send()
            except error as exc:
                return i + 1, exc
        raise AssertionError("never refused")

    def one_chat() -> Any:
        return oa.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": question()}], max_tokens=1024
        )

    def one_message() -> Any:
        return claude.messages.create(
            model="tele-lite", max_tokens=1024, messages=[{"role": "user", "content": question()}]
        )

    sent, refusal = until_refused(one_chat, openai.RateLimitError)
    assert sent <= 15 and refusal.code == "rate_limit_extraction"  # type: ignore[attr-defined]
    sent, refusal = until_refused(
        lambda: responses.responses.create(model="tele-lite", input=question(), max_output_tokens=1024),
        openai.RateLimitError,
    )
    assert sent <= 15 and refusal.code == "rate_limit_extraction"  # type: ignore[attr-defined]
    sent, refusal = until_refused(one_message, anthropic.RateLimitError)
    assert sent <= 15 and "throttled" in str(refusal)
    with pytest.raises(openai.RateLimitError):  # a throttled key is throttled on embeddings too
        oa.embeddings.create(model="tele-embed", input="anything at all")
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        found = events(client, tenant="acme-manufacturing")
    by_key = {e["key"]: e for e in sorted(found, key=lambda e: -e["id"])}
    assert {"acme-laptop", "acme-ci", "acme-bot"} <= set(by_key)
    assert all(by_key[k]["detector"] == "distillation" for k in ("acme-laptop", "acme-ci", "acme-bot"))


def test_a_templated_app_with_many_end_users_is_never_throttled(gw: Gateway) -> None:
    app = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-consumer", max_retries=0)
    rng = random.Random(9)
    for i in range(100):
        user = f"listener-{rng.randrange(1_000_000)}"
        prompt = f"ring tone {i}: a short happy jingle"
        if i % 2:
            app.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": prompt}], user=user)
        else:
            app.with_options(default_headers={"X-End-User": user}).chat.completions.create(
                model="tele-lite", messages=[{"role": "user", "content": prompt}])  # fmt: skip
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        assert events(client, tenant="ringback-app") == []
    assert all(r["status"] == 200 for r in gw.records(key_id="ringback-default"))


def test_a_scrape_spread_over_keys_made_together_is_judged_as_one(gw: Gateway) -> None:
    rng = random.Random(10)
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        secrets = []
        for i in range(4):
            made = client.post("/admin/keys", json={"tenant": "acme-manufacturing", "id": f"acme-spread-{i}"},
                               headers=OPERATOR)  # fmt: skip
            secrets.append(made.json()["secret"])
        pushback = None
        for i in range(80):
            key = secrets[i % 4]
            reply = chat(client, key, rng.choice(WRAPS).format(q=normal_prompt(rng)) if i % 3 == 0
                         else normal_prompt(rng), max_tokens=1024)  # fmt: skip
            if reply.status_code == 429:
                pushback = i + 1
                break
        time.sleep(0.2)
        found = [e for e in events(client) if e["detector"] == "cluster"]
    assert pushback is not None and pushback <= 60
    assert found and {e["key"] for e in found} >= {f"acme-spread-{i}" for i in range(4)}
    assert "created together in acme-manufacturing" in found[0]["evidence"]["linked_by"]


def test_an_operator_reads_the_evidence_and_marks_a_key_benign(gw: Gateway) -> None:
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(30):
            reply = chat(client, "sk-acme-laptop", f"Describe catalogue item {i} in full.", max_tokens=512)
            if reply.status_code == 429:
                break
        [event, *_] = events(client, tenant="acme-manufacturing")
        env = dict(os.environ, TOKENOPS_ADMIN_TOKEN="adm-demo-operator")
        shown = subprocess.run([sys.executable, "-m", "tokenops", "security", "events", "--url", gw.url],
                               capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
        assert shown.returncode == 0 and "acme-laptop" in shown.stdout and "template" in shown.stdout
        marked = subprocess.run([sys.executable, "-m", "tokenops", "security", "benign", "--url", gw.url,
                                 "--event", str(event["id"]), "--note", "a catalogue sync we run"],
                                capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
        assert marked.returncode == 0 and "key acme-laptop marked benign" in marked.stdout
        statuses = [chat(client, "sk-acme-laptop", f"Describe catalogue item {100 + i} in full.",
                         max_tokens=512).status_code for i in range(20)]  # fmt: skip
        marks = client.get("/admin/security/benign", headers=OPERATOR).json()["marks"]
        audit = client.get("/admin/audit", headers=OPERATOR).json()["entries"]
        bad = client.post("/admin/security/benign", json={"key": "acme-laptop", "pattern": "x"}, headers=OPERATOR)
        missing = client.post("/admin/security/benign", json={"key": "no-such-key"}, headers=OPERATOR)
        tenant_admin = client.post("/admin/security/benign", json={"key": "acme-laptop"},
                                   headers={"Authorization": "Bearer adm-demo-acme"})  # fmt: skip
        example = {"pattern": "ring tone 1: a short happy jingle", "tenant": "ringback-app"}
        pattern = client.post("/admin/security/benign", headers=OPERATOR, json=example)
        withdrawn = client.post(f"/admin/security/benign/{marks[0]['id']}/withdraw", headers=OPERATOR)
    assert statuses == [200] * 20  # the throttle is lifted at once and the key is not acted on again
    assert [m["key"] for m in marks] == ["acme-laptop"] and marks[0]["note"] == "a catalogue sync we run"
    assert marks[0]["profile_learned"] is True and marks[0]["by"] == "demo-operator"
    assert any(e["action"] == "security.benign" and e["target"] == "acme-laptop" for e in audit)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "key"
    assert missing.status_code == 404 and tenant_admin.status_code == 403
    assert pattern.status_code == 201 and "pattern" not in pattern.json()["mark"]  # its sketch only, no text
    assert withdrawn.json()["mark"]["status"] == "withdrawn"


def test_one_key_from_many_addresses_is_flagged(gw: Gateway) -> None:
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(20):
            headers = {"Authorization": "Bearer sk-acme-laptop", "X-Forwarded-For": f"203.0.113.{i + 1}"}
            body = {"model": "tele-lite", "messages": [{"role": "user", "content": normal_prompt(random.Random(i))}],
                    "max_tokens": 20}  # fmt: skip
            client.post("/v1/chat/completions", json=body, headers=headers)
        deadline = time.monotonic() + 2
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not found:
            found = events(client)
    [event] = found
    assert event["detector"] == "many_addresses" and event["key"] == "acme-laptop"
    assert event["evidence"]["addresses"] == 17


def test_suspend_policy_suspends_the_key_and_audits_it(tmp_path: Path) -> None:
    catalog = demo_catalog()
    catalog["policies"]["extraction"]["tenants"]["acme-manufacturing"] = "suspend"
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        with httpx.Client(base_url=gw.url, timeout=30) as client:
            statuses = []
            for i in range(20):
                headers = {"Authorization": "Bearer sk-demo-acme", "X-Forwarded-For": f"198.51.100.{i + 1}"}
                prompt = normal_prompt(random.Random(i))
                body = {"model": "tele-lite", "messages": [{"role": "user", "content": prompt}]}
                statuses.append(client.post("/v1/chat/completions", json=body, headers=headers).status_code)
            time.sleep(0.1)
            after = client.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-demo-acme"})
            audit = client.get("/admin/audit", headers=OPERATOR).json()
    finally:
        gw.server.stop()
    assert statuses[:17] == [200] * 17
    assert after.status_code == 403 and after.json()["error"]["code"] == "key_suspended"
    [entry] = audit["entries"]
    assert entry["actor"] == "security:many_addresses" and entry["after"] == {"status": "suspended"}


def test_a_throttle_reaches_every_replica_through_the_counter_store(
    tmp_path: Path, pg_database: str, pg_schema: str, redis_prefix: str
) -> None:
    backing = Backing(pg_database, REDIS_URL, pg_schema, redis_prefix)
    catalog = with_keys(long_answers(demo_catalog()), "acme-manufacturing", "acme-laptop")
    first = start_gateway(catalog, tmp_path / "home", backing=backing)  # one home: one key-hashing secret
    second = start_gateway(catalog, tmp_path / "home", backing=backing)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as a, httpx.Client(base_url=second.url, timeout=30) as b:
            for i in range(40):
                reply = chat(a, "sk-acme-laptop", f"Describe catalogue item {i} in full.", max_tokens=512)
                if reply.status_code == 429:
                    break
            else:
                raise AssertionError("never throttled on the first replica")
            statuses = [chat(b, "sk-acme-laptop", f"Describe catalogue item {50 + i} in full.", max_tokens=512)
                        .status_code for i in range(8)]  # fmt: skip
    finally:
        first.server.stop()
        second.server.stop()
    # the second replica has seen nothing of the scrape itself; the shared throttle refuses it within its
    # throttled rate (6 a minute) plus the one request after which it reads the shared level
    assert 429 in statuses[:8] and statuses.count(200) <= 7

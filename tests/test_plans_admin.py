"""Plans through a running gateway: the admin API and `tokenops plans`, who may do what, the audit, the invoice,
and a plan changed while a stream runs (its tokens are drawn from one subscription, once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest

from tests.charging_support import verify
from tests.conftest import Gateway, start_gateway
from tests.plan_support import plan_catalog
from tests.test_admin_charging import ACME_ADMIN, admin, this_month
from tokenops.cli.main import main

SUBS = "/admin/accounts/ringback-app/plans"


@pytest.fixture
def plan_gw(tmp_path: Path) -> Iterator[Gateway]:
    catalog = plan_catalog()
    for dep in catalog["deployments"]:
        if dep["model"] == "tele-lite":
            dep["simulate"] = {"ttft_ms": 5, "tokens_per_s": 100, "reply_tokens": 60}
    gw = start_gateway(catalog, tmp_path / "home")
    yield gw
    gw.server.stop()


def test_plans_are_sold_changed_and_cancelled_through_the_api_and_audited(plan_gw: Gateway) -> None:
    bad = admin(plan_gw, "PUT", "/admin/plans/gold", json={"price": "10.00", "allowances": [{"models": ["nope"],
                                                                                             "tokens": 5}]})
    assert bad.status_code == 400 and "unknown model" in bad.json()["error"]["message"]
    body = {"name": "Gold", "price": "50.00", "allowances": [{"models": ["tele-lite"], "tokens": 1_000_000}]}
    assert admin(plan_gw, "PUT", "/admin/plans/gold", json=body).status_code == 201
    assert admin(plan_gw, "PUT", "/admin/plans/gold", json=body, token=ACME_ADMIN).status_code == 403
    assert "gold" in [p["id"] for p in admin(plan_gw, "GET", "/admin/plans", token=ACME_ADMIN).json()["plans"]]

    made = admin(plan_gw, "POST", SUBS, json={"plan": "gold"}, headers={"Idempotency-Key": "order-1"})
    assert made.status_code == 201, made.text
    sub = made.json()
    again = admin(plan_gw, "POST", SUBS, json={"plan": "gold"}, headers={"Idempotency-Key": "order-1"})
    assert again.status_code == 200 and again.json()["replayed"] is True and again.json()["id"] == sub["id"]
    clash = admin(plan_gw, "POST", SUBS, json={"plan": "lite-starter"}, headers={"Idempotency-Key": "order-2"})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "subscription_exists"
    assert admin(plan_gw, "POST", SUBS, json={"plan": "gold", "key_id": "acme-default"},
                 headers={"Idempotency-Key": "order-3"}).status_code == 400  # another tenant's key  # fmt: skip
    assert admin(plan_gw, "GET", SUBS, token=ACME_ADMIN).status_code == 404
    assert admin(plan_gw, "POST", "/admin/accounts/acme-manufacturing/plans", json={"plan": "gold"},
                 token=ACME_ADMIN, headers={"Idempotency-Key": "x"}).status_code == 403  # fmt: skip

    changed = admin(plan_gw, "POST", f"{SUBS}/{sub['id']}/change", json={"plan": "lite-starter"},
                    headers={"Idempotency-Key": "order-4"})  # fmt: skip
    assert changed.status_code == 201, changed.text
    listed = admin(plan_gw, "GET", SUBS).json()["subscriptions"]
    assert [(s["plan"], s["active"]) for s in listed] == [("gold", False), ("lite-starter", True)]
    ended = admin(plan_gw, "POST", f"{SUBS}/{changed.json()['id']}/cancel", json={"at_period_end": True})
    assert ended.status_code == 201 and ended.json()["ends"] is not None and ended.json()["active"] is True
    assert admin(plan_gw, "POST", f"{SUBS}/{changed.json()['id']}/cancel", json={}).status_code == 409

    actions = [e["action"] for e in admin(plan_gw, "GET", "/admin/audit").json()["entries"]]
    assert {"plans.put", "plans.subscribe", "plans.change", "plans.cancel"} <= set(actions)
    invoice = admin(plan_gw, "GET", f"/admin/accounts/ringback-app/invoices/{this_month()}").json()
    models = [r["model"] for r in invoice["rows"]]
    assert models[:3] == ["plan gold fee", "plan gold credit", "plan lite-starter fee"]
    assert [a["plan"] for a in invoice["allowances"]] == ["gold", "lite-starter"]


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")


@pytest.mark.usefixtures("operator")
def test_cli_subscribes_shows_and_cancels(plan_gw: Gateway, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = ["--url", plan_gw.url]
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: Night\nprice: '12.00'\noverage: stop\nallowances:\n  - models: [tele-lite]\n"
                    "    tokens: 500000\n")  # fmt: skip
    assert main(["plans", "put", "night", "--file", str(plan), *url]) == 0
    assert main(["plans", "subscribe", "ringback-app", "night", "--key", "o-7", "--key-id", "ringback-default",
                 *url]) == 0  # fmt: skip
    assert main(["plans", "subscribe", "ringback-app", "night", "--key", "o-7", "--key-id", "ringback-default",
                 *url]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "subscribed: subscription sub_" in out and "already subscribed" in out
    assert main(["plans", "show", "ringback-app", "--json", *url]) == 0
    [sub] = orjson.loads(capsys.readouterr().out)["subscriptions"]
    assert sub["plan"] == "night" and sub["key_id"] == "ringback-default" and sub["allowances"][0]["overage"] == "stop"
    assert main(["plans", "cancel", "ringback-app", sub["id"], *url]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert main(["plans", "cancel", "ringback-app", sub["id"], *url]) == 2
    assert "409" in capsys.readouterr().err


async def _stream(url: str) -> int:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-demo-consumer", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": "a long answer"}], stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        tokens = 0
        async for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens
        return tokens
    finally:
        await client.close()


def test_a_plan_changed_while_a_stream_runs_draws_its_tokens_from_one_subscription_once(plan_gw: Gateway) -> None:
    made = admin(plan_gw, "POST", SUBS, json={"plan": "lite-pro"}, headers={"Idempotency-Key": "o-1"}).json()

    async def run() -> tuple[int, str]:
        streaming = asyncio.create_task(_stream(plan_gw.url))
        await asyncio.sleep(0.3)  # a third of the way through its 60 tokens
        path, key = f"{SUBS}/{made['id']}/change", {"Idempotency-Key": "o-2"}
        changed = await asyncio.to_thread(admin, plan_gw, "POST", path, json={"plan": "lite-starter"}, headers=key)
        assert changed.status_code == 201, changed.text
        return await streaming, changed.json()["id"]

    tokens, new_id = asyncio.run(run())
    time.sleep(0.1)
    entries = admin(plan_gw, "GET", "/admin/accounts/ringback-app/entries").json()["entries"]
    [charge] = [e for e in entries if e["kind"] == "charge"]
    assert sum(charge["meta"]["tokens"]) == tokens
    assert list(charge["meta"]["plan"]) == [f"{made['id']}/{this_month()}/0"]  # the old plan's, where it started
    assert charge["meta"]["plan"][f"{made['id']}/{this_month()}/0"] == tokens and charge["amount"] == "0.00"
    subs = {s["id"]: s for s in admin(plan_gw, "GET", SUBS).json()["subscriptions"]}
    assert subs[new_id]["allowances"][0]["used"] == 0
    old = subs[made["id"]]["allowances"][0]
    # the old month kept only what the stream might still draw (its worst case then), the rest went with it
    assert old["used"] == tokens and tokens <= old["tokens"] < 1_000
    plan_gw.server.stop()
    assert verify(plan_gw.home) == []

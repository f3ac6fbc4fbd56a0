"""Budgets on the request path: a hard budget refuses with 402 budget_exceeded, a soft one alerts."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import openai
import pytest

from tests.charging_support import priced_catalog, verify
from tests.conftest import demo_catalog, start_gateway


def test_hard_token_budget_refuses_with_budget_exceeded_and_soft_budget_alerts(tmp_path: Path) -> None:
    data = priced_catalog(demo_catalog(), "1000.00")
    data["budgets"] = [
        {"id": "ringback-daily", "scope": "key", "key": "ringback-default", "period": "day", "tokens": 1500},
        {"id": "ringback-soft", "scope": "tenant", "tenant": "ringback-app", "period": "month", "amount": "0.10",
         "mode": "soft"},
    ]  # fmt: skip
    gw = start_gateway(data, tmp_path / "home")
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-consumer", max_retries=0)
        served = 0
        with pytest.raises(openai.APIStatusError) as refused:
            for _ in range(100):
                client.chat.completions.create(
                    model="tele-lite", messages=[{"role": "user", "content": "hello"}], max_tokens=200
                )
                served += 1
        assert refused.value.status_code == 402
        assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "budget_exceeded"
        assert served >= 2
        asyncio.run_coroutine_threadsafe(gw.state.charging.flush_alerts(), gw.server.loop).result(5)  # type: ignore[arg-type]
    finally:
        gw.server.stop()
    records = gw.records(tenant_id="ringback-app")
    assert sum(r["input_tokens"] + r["output_tokens"] for r in records) <= 1500
    assert records[-1]["status"] == 402 and records[-1]["error_code"] == "budget_exceeded"
    db = sqlite3.connect(gw.home / "tokenops.db")
    alerts = db.execute("SELECT budget_id, threshold FROM budget_alerts ORDER BY threshold").fetchall()
    db.close()
    assert {("ringback-soft", 80), ("ringback-soft", 100), ("ringback-daily", 80)} <= set(alerts)
    assert verify(gw.home) == []


def test_embeddings_are_charged_like_chat(tmp_path: Path) -> None:
    data = priced_catalog(demo_catalog(), "1000.00")
    data["prices"]["versions"][0]["models"]["tele-embed"] = {"input": "5000"}
    gw = start_gateway(data, tmp_path / "home")
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-consumer", max_retries=0)
        reply = client.embeddings.create(model="tele-embed", input=["one alarm", "two alarms"])
        assert reply.usage.prompt_tokens > 0
    finally:
        gw.server.stop()
    db = sqlite3.connect(gw.home / "tokenops.db")
    [(amount, meta)] = db.execute("SELECT amount_units, meta FROM ledger_entries WHERE kind = 'charge'").fetchall()
    db.close()
    assert amount < 0 and '"tele-embed"' in meta
    assert verify(gw.home) == []

"""Each response says what it cost the tenant: `X-Tokenops-Cost`, and `usage.cost` when the client asks.

At the demo's market prices (tele-lite 0.60/1.20 CNY per million, retail 0.9) a request costs
a few ten-thousandths of a yuan; the figures the client is told add up, to the accounting
unit, to what the ledger debited.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openai

from tests.charging_support import balances, charges, verify
from tests.conftest import demo_catalog, start_gateway

KEY = "sk-demo-consumer"  # ringback-app, retail


def test_the_cost_a_client_is_told_is_what_the_ledger_charged(tmp_path: Path) -> None:
    gw = start_gateway(demo_catalog(), tmp_path / "home")
    before = balances(gw.home)["ringback-app"]
    told: dict[str, Decimal] = {}
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0)
        messages = [{"role": "user", "content": "how much did this cost?"}]
        for i in range(5):
            raw = client.chat.completions.with_raw_response.create(
                model="tele-lite", messages=messages, extra_body={"usage": {"include": True}} if i % 2 else None
            )  # type: ignore[call-overload]
            completion = raw.parse()
            cost = Decimal(raw.headers["x-tokenops-cost"])
            told[raw.headers["x-request-id"]] = cost
            assert Decimal(0) < cost < Decimal("0.01"), "a small request costs a fraction of a fen, not zero"
            extra = completion.usage.model_extra if completion.usage else None
            if i % 2:
                assert extra is not None and Decimal(extra["cost"]) == cost
            else:
                assert not extra or "cost" not in extra
        stream = client.chat.completions.create(
            model="tele-lite", messages=messages, stream=True, stream_options={"include_usage": True},
            extra_body={"usage": {"include": True}},
        )  # fmt: skip
        chunks = list(stream)
        usage = chunks[-1].usage
        assert usage is not None and usage.model_extra is not None
        streamed = Decimal(usage.model_extra["cost"])
        assert streamed > 0
        bad = client.chat.completions.with_raw_response.create
        try:
            bad(model="tele-lite", messages=messages, extra_body={"usage": "yes"})  # type: ignore[call-overload]
            raise AssertionError("a malformed usage switch is refused")
        except openai.BadRequestError as err:
            assert err.status_code == 400 and "'usage'" in str(err)
    finally:
        gw.server.stop()
    charged = charges(gw.home)
    for request_id, cost in told.items():
        assert charged[request_id] == int(cost * 1_000_000)
    assert sorted(charged.values()) == sorted([int(c * 1_000_000) for c in told.values()] + [int(streamed * 1_000_000)])
    assert before - balances(gw.home)["ringback-app"] == sum(charged.values())
    assert verify(gw.home) == []

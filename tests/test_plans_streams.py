"""Plans under concurrency, through the gateway and the openai SDK: 200 concurrent streams of one tenant.

With an overage price, the allowance is used exactly: the tokens past it are exactly those of the
requests settled after it ran out. With a hard stop, no stream takes the allowance past its total.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import orjson

from tests.charging_support import priced_catalog, verify
from tests.conftest import demo_catalog, start_gateway

KEY = "sk-demo-consumer"
STREAMS = 200
ALLOWANCE = 5_000  # tokens: about a hundred of the 200 streams' worth


def _catalog(overage: Any) -> dict[str, Any]:
    data = priced_catalog(demo_catalog(), "1000.00", ttft_ms=20, tokens_per_s=2000, reply_tokens=40)
    data["plans"] = [{"id": "lite-month", "price": "10.00",
                      "allowances": [{"models": ["tele-lite"], "tokens": ALLOWANCE, "overage": overage}]}]  # fmt: skip
    data["policies"] = {"extraction": {"default": "record"}}  # one tenant's burst on purpose: not a scraper
    month = datetime.now(UTC).strftime("%Y-%m-01T00:00:00Z")  # a whole month: the allowance is not prorated
    for account in data["accounts"]:
        if account["tenant"] == "ringback-app":
            account["plans"] = [{"plan": "lite-month", "starts": month}]
    return data


async def _stream(client: openai.AsyncOpenAI, i: int) -> tuple[int, str, int]:
    """(status, finish reason or error code, tokens the usage says were served)."""
    try:
        stream = await client.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": f"ringback tone report {i}"}], stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        finish, tokens = "", 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
            if chunk.usage is not None:
                tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens
        return 200, finish, tokens
    except openai.APIStatusError as err:
        assert isinstance(err.body, dict)
        return err.status_code, str(err.body.get("code")), 0


async def _burst(url: str) -> list[tuple[int, str, int]]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=60)
    try:
        return await asyncio.gather(*(_stream(client, i) for i in range(STREAMS)))
    finally:
        await client.close()


def _charges(home: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(home / "tokenops.db")
    try:
        rows = db.execute("SELECT amount_units, meta FROM ledger_entries WHERE kind = 'charge' AND "
                          "account_id = 'ringback-app' ORDER BY seq").fetchall()  # fmt: skip
    finally:
        db.close()
    return [{"amount": a, **orjson.loads(m)} for a, m in rows]


def _served(
    tmp_path: Path, overage: Any, after: int = 0
) -> tuple[list[tuple[int, str, int]], list[dict[str, Any]], list[int]]:
    """The burst's results, the ledger's charges, and the statuses of `after` requests made one by one after it."""
    gw = start_gateway(_catalog(overage), tmp_path / "home")
    statuses = []
    try:
        results = asyncio.run(_burst(gw.url))
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0)
        for i in range(after):
            try:
                client.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": f"n{i}"}])
                statuses.append(200)
            except openai.APIStatusError as err:
                statuses.append(err.status_code)
                break
    finally:
        gw.server.stop()
    assert verify(gw.home) == []
    return results, _charges(gw.home), statuses


def test_overage_starts_at_exactly_the_allowance_under_200_concurrent_streams(tmp_path: Path) -> None:
    results, charges, _ = _served(tmp_path, {"input": "500", "output": "1000"})  # the plan's own overage price
    assert [r for r in results if r[0] != 200] == []
    drawn, seen_overage = 0, 0
    for c in charges:
        tokens, covered = sum(c["tokens"]), sum(c.get("plan", {}).values())
        drawn += covered
        if tokens > covered:  # paid past the allowance: only once it has all been drawn
            assert drawn == ALLOWANCE, f"overage at {drawn} of {ALLOWANCE} tokens drawn"
            assert c["amount"] < 0 and c["version"] == "plan:lite-month"
            seen_overage += tokens - covered
        else:
            assert c["amount"] == 0
    served = sum(r[2] for r in results)
    print(f"{STREAMS} streams, {served:,} tokens: {drawn:,} from the allowance, {seen_overage:,} past it")
    assert drawn == ALLOWANCE and seen_overage == served - ALLOWANCE > 0
    assert sum(sum(c["tokens"]) for c in charges) == served, "tokens served = tokens billed"


def test_a_hard_stop_is_never_overrun_by_200_concurrent_streams(tmp_path: Path) -> None:
    results, charges, after = _served(tmp_path, "stop", after=200)
    refused = [r for r in results if r[0] == 402]
    assert refused and all(r[1] == "plan_allowance_exhausted" for r in refused)
    in_burst = sum(r[2] for r in results)
    drawn = sum(sum(c.get("plan", {}).values()) for c in charges)
    print(f"{STREAMS} streams on a hard stop of {ALLOWANCE:,}: {len(refused)} refused while others held it, "
          f"{in_burst:,} tokens served; then {len(after) - 1} requests one by one until refused; {drawn:,} drawn")
    assert in_burst <= ALLOWANCE and drawn <= ALLOWANCE, "no token past the allowance"
    assert all(c["amount"] == 0 and "written_off" not in c for c in charges), "no money past a hard stop"
    assert after[-1] == 402, "refused once the allowance is spent"
    assert drawn > ALLOWANCE - 64, "what the burst held came back: the allowance is spent, not lost"
    assert sum(sum(c["tokens"]) for c in charges) == drawn, "every token served came out of the allowance"

"""An agent session grown past the model's window keeps working when compaction is on, loses nothing
for good (the full transcript is retrievable), and gets its API's context-length error when it is off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.tokenize import count_messages, counter_for


def long_session(turns: int = 70) -> list[dict[str, Any]]:
    """An operations agent's session: tool calls whose outputs are long logs with a few errors in them."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are the grid operations agent. Diagnose faults from the logs."},
        {"role": "user", "content": "Feeder 7 trips every morning. Find out why."},
    ]
    for i in range(turns):
        call_id = f"call_{i:04d}"
        log = "\n".join(
            f"2026-11-{(i % 28) + 1:02d}T06:{j % 60:02d}:00Z INFO scada poll cell=CELL-{j:03d} load={40 + j % 9}% ok"
            for j in range(60)
        )
        day = f"2026-11-{(i % 28) + 1:02d}"
        log += f"\n{day}T06:59:59Z ERROR relay R{i:03d} tripped: overcurrent alarm_id=ALM-{9000 + i}"
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "read_logs", "arguments": f'{{"day": {i}}}'}}
        ]})  # fmt: skip
        messages.append({"role": "tool", "tool_call_id": call_id, "content": log})
    messages.append({"role": "user", "content": "Summarise the root cause now."})
    return messages


def admin(gw: Gateway, token: str, path: str) -> httpx.Response:
    return httpx.get(gw.url + path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def gw(tmp_path: Path) -> Gateway:
    catalog = demo_catalog()
    gov = catalog["tenants"][1]
    gov["content_logging"] = True  # so there is another tenant's transcript to hide from acme's admin
    g = start_gateway(catalog, tmp_path / "home")
    yield g  # type: ignore[misc]
    g.server.stop()


def test_session_past_the_window_is_compacted_and_its_transcript_kept(gw: Gateway) -> None:
    messages = long_session()
    assert count_messages(counter_for("cl100k"), messages) > 32768  # past tele-lite's window
    api = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0)
    raw = api.chat.completions.with_raw_response.create(
        model="tele-lite",
        messages=messages,
        extra_headers={"X-Session-Id": "fault-hunt-7"},  # type: ignore[arg-type]
    )
    reply = raw.parse()
    assert reply.choices[0].message.content
    assert raw.headers["x-tokenops-compaction"] == "applied"
    before = int(raw.headers["x-tokenops-compaction-tokens-before"])
    after = int(raw.headers["x-tokenops-compaction-tokens-after"])
    assert before > 32768 > after
    assert reply.usage is not None and reply.usage.prompt_tokens < 32768
    transcript_id = raw.headers["x-tokenops-transcript-id"]
    stored = admin(gw, "adm-demo-operator", f"/admin/transcripts/{transcript_id}")
    assert stored.status_code == 200 and stored.json()["messages"] == messages
    assert admin(gw, "adm-demo-acme", f"/admin/transcripts/{transcript_id}").status_code == 200
    session = admin(gw, "adm-demo-acme", "/admin/sessions/fault-hunt-7").json()
    assert session["requests"] == 1 and session["transcripts"] == [transcript_id]


def test_the_anthropic_sdk_session_is_compacted_too(gw: Gateway) -> None:
    messages = long_session()
    system = messages[0]["content"]
    converted: list[dict[str, Any]] = []
    for m in messages[1:]:
        if m["role"] == "assistant":
            call = m["tool_calls"][0]
            converted.append({"role": "assistant", "content": [
                {"type": "tool_use", "id": call["id"], "name": "read_logs", "input": {"day": 1}}
            ]})  # fmt: skip
        elif m["role"] == "tool":
            converted.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
            ]})  # fmt: skip
        else:
            converted.append({"role": "user", "content": m["content"]})
    client = anthropic.Anthropic(base_url=gw.url, api_key="sk-demo-acme", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="tele-lite",
        max_tokens=256,
        system=system,
        messages=converted,  # type: ignore[arg-type]
    )
    assert raw.parse().content[0].type == "text"
    assert raw.headers["x-tokenops-compaction"] == "applied"


def test_another_tenants_transcript_does_not_exist_for_a_tenant_admin(gw: Gateway) -> None:
    api = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-gov", max_retries=0)
    raw = api.chat.completions.with_raw_response.create(model="tele-lite", messages=long_session())  # type: ignore[arg-type]
    transcript_id = raw.headers["x-tokenops-transcript-id"]
    assert transcript_id.startswith("tr_")
    assert admin(gw, "adm-demo-operator", f"/admin/transcripts/{transcript_id}").status_code == 200
    assert admin(gw, "adm-demo-acme", f"/admin/transcripts/{transcript_id}").status_code == 404


def test_a_tenant_that_stores_no_content_gets_compaction_without_an_archive(tmp_path: Path) -> None:
    gw = start_gateway(demo_catalog(), tmp_path / "home")  # cn-gov-energy: content_logging false
    try:
        api = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-gov", max_retries=0)
        raw = api.chat.completions.with_raw_response.create(model="tele-lite", messages=long_session())  # type: ignore[arg-type]
        assert raw.headers["x-tokenops-compaction"] == "applied"
        assert raw.headers["x-tokenops-transcript-id"] == "not-stored"
    finally:
        gw.server.stop()


def test_with_compaction_off_each_api_gets_its_own_context_length_error(gw: Gateway) -> None:
    messages = long_session()  # ringback-app has compaction off
    api = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-consumer", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        api.chat.completions.create(model="tele-lite", messages=messages)  # type: ignore[arg-type]
    assert caught.value.code == "context_length_exceeded"
    client = anthropic.Anthropic(base_url=gw.url, api_key="sk-demo-consumer", max_retries=0)
    text = "\n".join(str(m.get("content") or "") for m in messages)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model="tele-lite", max_tokens=256, messages=[{"role": "user", "content": text}])
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("prompt is too long")

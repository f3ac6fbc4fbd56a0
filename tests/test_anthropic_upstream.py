"""The OpenAI SDK's chat completions served by an Anthropic-compatible upstream over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.conftest import Gateway, ServerThread
from tests.test_chat import TOOLS


@pytest.fixture
def api(anthropic_gateway: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=anthropic_gateway.url + "/v1", api_key="sk-demo-acme", max_retries=0) as client:
        yield client


def test_chat_completion_through_anthropic_upstream_records_its_usage(
    anthropic_gateway: Gateway, api: openai.OpenAI
) -> None:
    reply = api.chat.completions.create(
        model="tele-lite", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Grid?"}]
    )
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
    assert reply.model == "tele-lite" and reply.usage is not None
    [record] = anthropic_gateway.records()
    assert record["usage_source"] == "upstream" and record["input_tokens"] == reply.usage.prompt_tokens
    assert record["output_tokens"] == reply.usage.completion_tokens > 0


def test_streamed_chat_through_anthropic_upstream_ends_with_usage(
    anthropic_gateway: Gateway, api: openai.OpenAI
) -> None:
    chunks = list(
        api.chat.completions.create(
            model="tele-lite",
            messages=[{"role": "user", "content": "Stream please"}],
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=9,
        )
    )
    assert chunks[-2].choices[0].finish_reason == "length"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 9
    [record] = anthropic_gateway.records()
    assert record["stream"] == 1 and record["output_tokens"] == 9 and record["input_tokens"] == usage.prompt_tokens


def test_chat_tool_round_trip_through_anthropic_upstream(anthropic_gateway: Gateway, api: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Please call get_alarm for alarm A-1234"}]
    stream = api.chat.completions.create(model="tele-lite", messages=messages, tools=TOOLS, stream=True)
    calls: dict[str, str] = {}
    call_id = ""
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call_id = call.id or call_id
            name = call.function.name if call.function else None
            calls[name or "get_alarm"] = calls.get("get_alarm", "") + (
                (call.function and call.function.arguments) or ""
            )
    assert '"alarm_id"' in calls["get_alarm"]
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "get_alarm", "arguments": calls["get_alarm"]}}
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call_id, "content": '{"severity": "major"}'})
    second = api.chat.completions.create(model="tele-lite", messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content
    assert [r["status"] for r in anthropic_gateway.records()] == [200, 200]


def test_anthropic_stream_cut_midway_is_an_upstream_error_billed_for_what_was_sent(
    anthropic_gateway: Gateway, sim_upstream: ServerThread, api: openai.OpenAI
) -> None:
    httpx.post(sim_upstream.url + "/_sim/config", json={"cut_after": 5, "reply_tokens": 20})
    chunks = []
    with pytest.raises(openai.APIError):
        for chunk in api.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": "long story"}], stream=True
        ):
            chunks.append(chunk)
    [record] = anthropic_gateway.records()
    assert record["outcome"] == "upstream_error" and record["output_tokens"] == 5
    assert record["usage_source"] != "upstream"

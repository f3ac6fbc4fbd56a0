"""What real agents send, through each client API and both upstream adapters, and metering that agrees."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from tests.conftest import Gateway

SYSTEM = "You are an operations agent for the power grid. Follow the runbook exactly.\n" + (
    "Rule: quote error lines verbatim, keep identifiers such as ALM-2231 and trace ids intact. " * 330
)
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool",
            "parameters": {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]},
        },
    }
    for name in (
        "read_file", "write_file", "list_dir", "run_shell", "grep", "get_alarm",
        "ack_alarm", "query_meter", "open_ticket", "web_fetch", "send_message",
    )
]  # fmt: skip
HEADERS = {"authorization": "Bearer sk-demo-acme"}


@pytest.fixture(params=["openai_upstream", "anthropic_upstream"])
def gw(request: pytest.FixtureRequest) -> Gateway:
    name = {"openai_upstream": "http_gateway", "anthropic_upstream": "anthropic_gateway"}[request.param]
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def api(gw: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0) as client:
        yield client


def test_agent_session_with_big_prompt_many_tools_and_rewritten_call_ids(gw: Gateway, api: openai.OpenAI) -> None:
    assert 25_000 <= len(SYSTEM) <= 40_000 and len(TOOLS) >= 10
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Alarm ALM-2231 fired on feeder 7."},
        {"role": "user", "content": "Please call get_alarm for ALM-2231"},
    ]
    stream = api.chat.completions.create(
        model="tele-lite",
        messages=messages,
        tools=TOOLS,
        tool_choice="auto",
        stream=True,
        stream_options={"include_usage": True},
        max_completion_tokens=800,
    )
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                slot["name"] = (call.function and call.function.name) or slot["name"]
                slot["arguments"] += (call.function and call.function.arguments) or ""
    [call] = calls.values()
    assert call["name"] == "get_alarm"
    rewritten = call["id"].replace("_", "")  # the client strips characters it dislikes from the id
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": rewritten, "type": "function", "function": {"name": "get_alarm", "arguments": call["arguments"]}}
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": rewritten, "content": "severity major, feeder 7 tripped"})
    reply = api.chat.completions.create(model="tele-lite", messages=messages, tools=TOOLS, max_completion_tokens=800)
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.content
    first, second = gw.records()
    assert first["status"] == second["status"] == 200
    assert first["input_tokens"] > 6000 and second["input_tokens"] > first["input_tokens"]


def test_gzip_body_and_unknown_fields_are_accepted_by_every_api(gw: Gateway) -> None:
    bodies = {
        "/v1/chat/completions": {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]},
        "/v1/responses": {
            "model": "tele-lite",
            "input": "hi",
            "store": False,
            "include": ["reasoning.encrypted_content"],
        },
        "/v1/messages": {"model": "tele-lite", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
    }
    for path, body in bodies.items():
        body = {**body, "x_client_trace": {"span": 1}, "some_future_field": True}
        raw = gzip.compress(orjson.dumps(body))
        headers = {**HEADERS, "content-encoding": "gzip", "content-type": "application/json"}
        response = httpx.post(gw.url + path, content=raw, headers=headers)
        assert response.status_code == 200, (path, response.text)
    assert [r["api"] for r in gw.records()] == ["chat.completions", "responses", "messages"]


def test_anthropic_request_with_cache_control_images_and_thinking_is_served(gw: Gateway) -> None:
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    body = {
        "model": "tele-lite",
        "max_tokens": 3000,
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stop_sequences": ["END"],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": pixel}},
                    {"type": "text", "text": "What is on this panel?", "cache_control": {"type": "ephemeral"}},
                ],
            }
        ],
    }
    headers = {"x-api-key": "sk-demo-acme", "anthropic-version": "2023-06-01"}
    response = httpx.post(gw.url + "/v1/messages", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["type"] == "text"


def test_metering_is_identical_across_the_three_apis(gw: Gateway) -> None:
    question = "How is feeder 7 doing today?"
    with openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0) as oai:
        chat = oai.chat.completions.create(
            model="tele-lite",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            max_tokens=300,
        )
        resp = oai.responses.create(model="tele-lite", instructions=SYSTEM, input=question, max_output_tokens=300)
    body = {
        "model": "tele-lite",
        "max_tokens": 300,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": question}],
    }
    msg = httpx.post(gw.url + "/v1/messages", json=body, headers={"x-api-key": "sk-demo-acme"}).json()
    records = gw.records()
    assert [r["api"] for r in records] == ["chat.completions", "responses", "messages"]
    assert len({(r["input_tokens"], r["output_tokens"], r["cached_tokens"]) for r in records}) == 1
    assert chat.usage is not None and resp.usage is not None
    assert (
        chat.usage.prompt_tokens
        == resp.usage.input_tokens
        == msg["usage"]["input_tokens"]
        == records[0]["input_tokens"]
    )
    assert chat.choices[0].message.content == resp.output_text == msg["content"][0]["text"]

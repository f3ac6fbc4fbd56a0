"""The Anthropic SDK's Messages API against the gateway, served by every kind of upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import pytest

from tests.conftest import Gateway, ServerThread

TOOLS: list[Any] = [
    {
        "name": "get_alarm",
        "description": "Look up an alarm by id",
        "input_schema": {"type": "object", "properties": {"alarm_id": {"type": "string"}}, "required": ["alarm_id"]},
    }
]


_clients: list[anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(gw: Gateway, key: str = "sk-demo-acme") -> anthropic.Anthropic:
    _clients.append(anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0))
    return _clients[-1]


@pytest.fixture(params=["in_process", "openai_upstream", "anthropic_upstream"])
def gw(request: pytest.FixtureRequest) -> Gateway:
    name = {"in_process": "gateway", "openai_upstream": "http_gateway", "anthropic_upstream": "anthropic_gateway"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


def test_message_returns_text_and_usage_and_records_it(gw: Gateway) -> None:
    reply = client(gw).messages.create(
        model="tele-lite",
        max_tokens=500,
        system=[{"type": "text", "text": "You watch the grid.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "How is the grid?"}],
    )
    assert reply.type == "message" and reply.role == "assistant" and reply.model == "tele-lite"
    assert reply.stop_reason == "end_turn"
    assert reply.content[0].type == "text" and reply.content[0].text
    [record] = gw.records()
    assert record["api"] == "messages" and record["status"] == 200 and record["stream"] == 0
    assert record["input_tokens"] == reply.usage.input_tokens and record["output_tokens"] == reply.usage.output_tokens


def test_max_tokens_stop_reason(gw: Gateway) -> None:
    reply = client(gw).messages.create(model="tele-lite", max_tokens=4, messages=[{"role": "user", "content": "Go"}])
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 4


def test_stream_sends_the_real_event_sequence_with_usage(gw: Gateway) -> None:
    with client(gw).messages.stream(
        model="tele-lite", max_tokens=300, messages=[{"role": "user", "content": "Stream please"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds[-2] == "message_delta" and "content_block_start" in kinds and "content_block_stop" in kinds
    assert final.stop_reason == "end_turn" and final.content[0].type == "text" and final.content[0].text
    [record] = gw.records()
    assert record["api"] == "messages" and record["stream"] == 1
    assert record["input_tokens"] == final.usage.input_tokens and record["output_tokens"] == final.usage.output_tokens


def test_tool_round_trip_with_tool_use_and_tool_result(gw: Gateway) -> None:
    api = client(gw)
    messages: list[Any] = [{"role": "user", "content": "Please call get_alarm for alarm A-1234"}]
    first = api.messages.create(model="tele-lite", max_tokens=400, messages=messages, tools=TOOLS)
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_alarm" and "alarm_id" in call.input  # type: ignore[operator]
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call.id,
                    "content": "major",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ]
    second = api.messages.create(model="tele-lite", max_tokens=400, messages=messages, tools=TOOLS)
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    assert [r["status"] for r in gw.records(api="messages")] == [200, 200]


def test_streamed_tool_use_arrives_as_input_json_deltas(gw: Gateway) -> None:
    with client(gw).messages.stream(
        model="tele-lite",
        max_tokens=400,
        messages=[{"role": "user", "content": "use get_alarm on X-9"}],
        tools=TOOLS,
        tool_choice={"type": "auto"},
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert deltas
    assert final.stop_reason == "tool_use"
    [call] = [block for block in final.content if block.type == "tool_use"]
    assert call.name == "get_alarm" and "alarm_id" in call.input  # type: ignore[operator]
    [record] = gw.records()
    assert record["output_tokens"] == final.usage.output_tokens > 0


def test_anthropic_prefix_and_bearer_auth_are_served(gateway: Gateway) -> None:
    bearer = anthropic.Anthropic(base_url=gateway.url + "/anthropic", auth_token="sk-demo-acme", max_retries=0)
    _clients.append(bearer)
    reply = bearer.messages.create(model="tele-lite", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert reply.content
    assert [r["key_id"] for r in gateway.records(api="messages")] == ["acme-default"]


def test_errors_come_in_anthropic_shape(gateway: Gateway) -> None:
    with pytest.raises(anthropic.AuthenticationError) as denied:
        client(gateway, key="sk-wrong").messages.create(
            model="tele-lite", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert denied.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
    }
    for body in ({"model": "tele-lite", "messages": [{"role": "user", "content": "x"}]}, {"model": "tele-lite"}):
        response = httpx.post(gateway.url + "/v1/messages", json=body, headers={"x-api-key": "sk-demo-acme"})
        assert response.status_code == 400
        assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.NotFoundError) as missing:
        client(gateway).messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert [r["status"] for r in gateway.records(api="messages")] == [400, 400, 404]


def test_count_tokens_answers_and_records_nothing_billed(gateway: Gateway) -> None:
    counted = client(gateway).messages.count_tokens(
        model="tele-lite",
        system="You watch the grid.",
        messages=[{"role": "user", "content": "How is it?"}],
        tools=TOOLS,
    )
    reply = client(gateway).messages.create(
        model="tele-lite",
        max_tokens=20,
        system="You watch the grid.",
        messages=[{"role": "user", "content": "How is it?"}],
        tools=TOOLS,
    )
    assert counted.input_tokens == reply.usage.input_tokens > 0
    [record] = gateway.records(api="messages.count_tokens")
    assert record["status"] == 200 and record["input_tokens"] == 0 and record["output_tokens"] == 0
    assert record["model_requested"] == "tele-lite"
    with pytest.raises(anthropic.BadRequestError):
        client(gateway).messages.count_tokens(model="tele-lite", messages=[])
    assert len(gateway.records(api="messages.count_tokens")) == 2


@pytest.mark.parametrize("fixture", ["http_gateway", "anthropic_gateway"])
def test_upstream_context_length_error_reaches_the_client_in_anthropic_shape(
    request: pytest.FixtureRequest, sim_upstream: ServerThread, fixture: str
) -> None:
    gw: Gateway = request.getfixturevalue(fixture)
    httpx.post(sim_upstream.url + "/_sim/config", json={"context_window": 50})
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(gw).messages.create(model="tele-lite", max_tokens=10, messages=[{"role": "user", "content": "x " * 200}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "context length" in caught.value.message or "prompt is too long" in caught.value.message
    [record] = gw.records()
    assert record["status"] == 400 and record["error_code"] == "context_length_exceeded"

"""The OpenAI SDK's Responses API against the gateway, served by every kind of upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.conftest import Gateway, ServerThread

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_alarm",
        "description": "Look up an alarm by id",
        "parameters": {"type": "object", "properties": {"alarm_id": {"type": "string"}}, "required": ["alarm_id"]},
    }
]


_clients: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(gw: Gateway) -> openai.OpenAI:
    _clients.append(openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0))
    return _clients[-1]


@pytest.fixture(params=["in_process", "openai_upstream", "anthropic_upstream"])
def gw(request: pytest.FixtureRequest) -> Gateway:
    name = {"in_process": "gateway", "openai_upstream": "http_gateway", "anthropic_upstream": "anthropic_gateway"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


def test_response_returns_text_and_usage_and_records_it(gw: Gateway) -> None:
    reply = client(gw).responses.create(
        model="tele-lite", instructions="Be brief.", input="How is the grid?", store=False, max_output_tokens=500
    )
    assert reply.status == "completed" and reply.output_text
    assert reply.model == "tele-lite" and reply.output[0].type == "message"
    assert reply.usage is not None and reply.usage.output_tokens > 0
    [record] = gw.records()
    assert record["api"] == "responses" and record["status"] == 200 and record["stream"] == 0
    assert record["input_tokens"] == reply.usage.input_tokens
    assert record["output_tokens"] == reply.usage.output_tokens


def test_response_cut_at_max_output_tokens_is_incomplete(gw: Gateway) -> None:
    reply = client(gw).responses.create(model="tele-lite", input="Tell me everything", max_output_tokens=5)
    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None and reply.incomplete_details.reason == "max_output_tokens"
    assert reply.usage is not None and reply.usage.output_tokens == 5
    [record] = gw.records()
    assert record["output_tokens"] == 5


def test_stream_sends_the_full_event_sequence_and_usage_in_completed(gw: Gateway) -> None:
    with client(gw).responses.stream(
        model="tele-lite", input=[{"role": "user", "content": "Stream please"}], max_output_tokens=300
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final.output_text and final.usage is not None and final.usage.output_tokens > 0
    [record] = gw.records()
    assert record["api"] == "responses" and record["stream"] == 1
    assert (record["input_tokens"], record["output_tokens"]) == (final.usage.input_tokens, final.usage.output_tokens)


def test_tool_round_trip_with_function_call_items(gw: Gateway) -> None:
    api = client(gw)
    items: list[Any] = [{"role": "user", "content": "Please call get_alarm for alarm A-1234"}]
    first = api.responses.create(model="tele-lite", input=items, tools=TOOLS, store=False)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_alarm" and '"alarm_id"' in call.arguments
    items += [
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"severity": "major"}'},
    ]
    second = api.responses.create(model="tele-lite", input=items, tools=TOOLS, store=False)
    assert second.status == "completed" and second.output_text
    assert [r["status"] for r in gw.records(api="responses")] == [200, 200]


def test_streamed_function_call_arrives_as_argument_deltas(gw: Gateway) -> None:
    events = list(
        client(gw).responses.create(
            model="tele-lite", input="use get_alarm on X-9", tools=TOOLS, stream=True, store=False
        )
    )
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.type == "function_call" and added.item.name == "get_alarm"  # type: ignore[union-attr]
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")  # type: ignore[union-attr]
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == args and '"alarm_id"' in args  # type: ignore[union-attr]
    completed = events[-1]
    assert completed.type == "response.completed" and completed.response.usage is not None
    [record] = gw.records()
    assert record["output_tokens"] == completed.response.usage.output_tokens > 0


def test_malformed_request_gets_an_openai_error_and_a_record(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).responses.create(model="tele-lite", input=[{"role": "robot", "content": "x"}])
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert body["type"] == "invalid_request_error" and body["param"] == "input[0].role"
    response = httpx.post(gateway.url + "/v1/responses", content=b"{", headers={"authorization": "Bearer sk-demo-acme"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    assert [r["status"] for r in gateway.records(api="responses")] == [400, 400]


def test_previous_response_id_is_refused_as_unsupported(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).responses.create(model="tele-lite", input="x", previous_response_id="resp_1")
    assert caught.value.code == "unsupported_parameter"


@pytest.mark.parametrize("fixture", ["http_gateway", "anthropic_gateway"])
def test_upstream_context_length_error_stays_a_context_length_error(
    request: pytest.FixtureRequest, sim_upstream: ServerThread, fixture: str
) -> None:
    gw: Gateway = request.getfixturevalue(fixture)
    httpx.post(sim_upstream.url + "/_sim/config", json={"context_window": 50})
    with pytest.raises(openai.BadRequestError) as caught:
        client(gw).responses.create(model="tele-lite", input="x " * 200, max_output_tokens=10)
    assert caught.value.code == "context_length_exceeded"
    [record] = gw.records()
    assert record["status"] == 400 and record["error_code"] == "context_length_exceeded"

"""The OpenAI SDK against the gateway: chat (streaming and not), tools, embeddings, models."""

from __future__ import annotations

import base64
import struct

import openai
import pytest

from tests.conftest import Gateway

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_alarm",
            "description": "Look up an alarm by id",
            "parameters": {
                "type": "object",
                "properties": {"alarm_id": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["alarm_id"],
            },
        },
    }
]


def client(gw: Gateway, key: str = "sk-demo-acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


@pytest.fixture(params=["in_process", "http"])
def gw(request: pytest.FixtureRequest) -> Gateway:
    """Each test runs against the in-process simulated provider and against the OpenAI adapter over HTTP."""
    name = "gateway" if request.param == "in_process" else "http_gateway"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_chat_completion_returns_text_and_usage_and_records_it(gw: Gateway) -> None:
    reply = client(gw).chat.completions.create(
        model="tele-lite", messages=[{"role": "user", "content": "How is the grid?"}]
    )
    assert reply.choices[0].message.content
    assert reply.model == "tele-lite"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    [record] = gw.records(api="chat.completions")
    assert record["status"] == 200 and record["outcome"] == "ok"
    assert record["tenant_id"] == "acme-manufacturing" and record["key_id"] == "acme-default"
    assert record["input_tokens"] == reply.usage.prompt_tokens
    assert record["output_tokens"] == reply.usage.completion_tokens
    assert record["usage_source"] == "upstream"
    assert record["model_served"] == "tele-lite" and record["region"] in ("cn-east", "cn-north")
    assert record["deployment_id"] in ("lite-east-1", "lite-north-1")


def test_stream_with_include_usage_ends_with_usage_chunk(gw: Gateway) -> None:
    chunks = list(
        client(gw).chat.completions.create(
            model="tele-lite",
            messages=[{"role": "user", "content": "Stream please"}],
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=12,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 12
    assert chunks[-2].choices[0].finish_reason == "length"
    assert text
    [record] = gw.records()
    assert record["stream"] == 1 and record["output_tokens"] == 12 and record["input_tokens"] == usage.prompt_tokens
    assert record["ttft_ms"] is not None and record["ttft_ms"] <= record["latency_ms"]


def test_stream_without_include_usage_hides_the_usage_chunk_but_meters(gw: Gateway) -> None:
    chunks = list(
        client(gw).chat.completions.create(
            model="lite", messages=[{"role": "user", "content": "Hi"}], stream=True, max_tokens=7
        )
    )
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert all(c.model == "lite" for c in chunks)
    [record] = gw.records()
    assert record["output_tokens"] == 7 and record["usage_source"] == "upstream"
    assert record["model_requested"] == "lite" and record["model_served"] == "tele-lite"


def test_tool_call_round_trip_passes_tools_through(gw: Gateway) -> None:
    api = client(gw)
    messages: list[dict[str, object]] = [{"role": "user", "content": "Please call get_alarm for alarm A-1234"}]
    first = api.chat.completions.create(model="tele-lite", messages=messages, tools=TOOLS, tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_alarm" and '"alarm_id"' in call.function.arguments
    messages.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump()]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"severity": "major"}'})
    second = api.chat.completions.create(model="tele-lite", messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content
    assert len(gw.records()) == 2


def test_streamed_tool_call_arrives_in_argument_deltas(gw: Gateway) -> None:
    stream = client(gw).chat.completions.create(
        model="tele-lite",
        messages=[{"role": "user", "content": "use get_alarm on X-9"}],
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    args = ""
    name = None
    chunks = list(stream)
    for chunk in chunks:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                name = call.function.name or name  # type: ignore[union-attr]
                args += call.function.arguments or ""  # type: ignore[union-attr]
    assert name == "get_alarm" and '"alarm_id"' in args
    [record] = gw.records()
    assert record["output_tokens"] == chunks[-1].usage.completion_tokens > 0  # type: ignore[union-attr]


def test_embeddings_in_float_and_base64(gw: Gateway) -> None:
    api = client(gw)
    floats = api.embeddings.create(model="tele-embed", input=["grid fault", "line trip"], encoding_format="float")
    packed = api.embeddings.create(model="tele-embed", input=["grid fault", "line trip"])
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 256
    assert packed.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert floats.usage.prompt_tokens > 0
    raw = api.embeddings.with_raw_response.create(model="tele-embed", input="x", encoding_format="base64")
    assert len(base64.b64decode(raw.http_response.json()["data"][0]["embedding"])) == struct.calcsize("<256f")
    records = gw.records(api="embeddings")
    assert len(records) == 3 and all(r["input_tokens"] > 0 for r in records)


def test_models_lists_only_what_the_key_may_use(gw: Gateway) -> None:
    acme = {m.id for m in client(gw).models.list()}
    consumer = {m.id for m in client(gw, "sk-demo-consumer").models.list()}
    gov = {m.id for m in client(gw, "sk-demo-gov").models.list()}
    assert {"tele-lite", "tele-max", "tele-embed"} <= acme and "grid-fault-expert" not in acme
    assert consumer == {"tele-lite", "tele-embed", "lite"}
    assert "grid-fault-expert" in gov and "tele-max" not in gov
    assert client(gw).models.retrieve("tele-max").id == "tele-max"
    with pytest.raises(openai.NotFoundError):
        client(gw, "sk-demo-consumer").models.retrieve("tele-max")


def test_dedicated_tenant_is_served_only_by_its_own_deployments(gw: Gateway) -> None:
    api = client(gw, "sk-demo-gov")
    for _ in range(6):
        api.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": "status"}])
    records = gw.records()
    assert {r["deployment_id"] for r in records} == {"gov-lite-north-1"}
    assert {r["region"] for r in records} == {"cn-north"}


def test_request_id_is_echoed_and_kept_as_correlation_only(gw: Gateway) -> None:
    raw = client(gw).chat.completions.with_raw_response.create(
        model="tele-lite", messages=[{"role": "user", "content": "x"}], extra_headers={"X-Request-Id": "abc-123"}
    )
    assert raw.headers["x-request-id"] == "abc-123"
    ours = raw.headers["x-tokenops-request-id"]
    [record] = gw.records()
    assert record["request_id"] == ours and record["correlation_id"] == "abc-123"
    assert raw.headers["x-tokenops-deployment"] == record["deployment_id"]

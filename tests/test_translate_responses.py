"""OpenAI Responses (client side) ↔ canonical chat, and the Responses stream encoder."""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.errors import UpstreamError
from tokenops.translate.responses_chat import to_chat, to_response
from tokenops.translate.responses_stream import ResponsesStreamEncoder
from tokenops.usage import Usage


def test_input_items_become_canonical_messages() -> None:
    body = to_chat(
        {
            "model": "m",
            "instructions": "inst",
            "input": [
                {"role": "system", "content": "sys"},
                {"role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {"type": "input_image", "image_url": "https://x/y.png"},
                    ],
                },
                {"type": "reasoning", "id": "rs_1", "encrypted_content": "zzz", "summary": []},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
                {"type": "function_call", "call_id": "call_1", "name": "get", "arguments": '{"a":1}'},
                {"type": "function_call", "call_id": "call_2", "name": "get", "arguments": '{"a":2}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "one"},
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [{"type": "input_text", "text": "two"}],
                },
            ],
            "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}, {"type": "web_search"}],
            "tool_choice": {"type": "function", "name": "get"},
            "max_output_tokens": 64,
            "reasoning": {"effort": "low", "summary": "auto"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
            "store": False,
            "include": ["reasoning.encrypted_content"],
        }
    )
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get", "arguments": '{"a":2}'}},
    ]
    assert body["messages"] == [
        {"role": "system", "content": "inst"},
        {"role": "system", "content": "sys"},
        {"role": "system", "content": "dev"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
        {"role": "assistant", "content": "Let me check.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "one"},
        {"role": "tool", "tool_call_id": "call_2", "content": "two"},
    ]
    assert body["tools"] == [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get"}}
    assert body["max_tokens"] == 64 and body["reasoning_effort"] == "low"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}},
    }
    assert "store" not in body and "include" not in body


def test_completion_becomes_a_response_with_items_and_usage() -> None:
    completion = {
        "choices": [
            {
                "message": {
                    "content": "Hi",
                    "tool_calls": [{"id": "call_1", "function": {"name": "get", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    usage = Usage(input_tokens=20, output_tokens=5, cached_tokens=8, cache_write_tokens=2, reasoning_tokens=1)
    response = to_response(completion, usage, {"model": "alias", "tools": []}, "alias")
    assert response["object"] == "response" and response["status"] == "completed" and response["model"] == "alias"
    message, call = response["output"]
    assert message["type"] == "message" and message["content"][0] == {
        "type": "output_text",
        "text": "Hi",
        "annotations": [],
        "logprobs": [],
    }
    assert call["type"] == "function_call" and call["call_id"] == "call_1" and call["name"] == "get"
    assert response["usage"] == {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 2},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 25,
    }
    cut = to_response({"choices": [{"message": {"content": "a"}, "finish_reason": "length"}]}, usage, {}, "m")
    assert cut["status"] == "incomplete" and cut["incomplete_details"] == {"reason": "max_output_tokens"}


def _events(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for frame in raw.decode().strip().split("\n\n"):
        name, data = frame.split("\n")
        event = orjson.loads(data.removeprefix("data: "))
        assert name == "event: " + event["type"]
        out.append(event)
    return out


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return b'{"id":"c","choices":' + orjson.dumps([{"index": 0, "delta": delta, "finish_reason": finish}]) + b"}"


def test_stream_encoder_emits_the_responses_event_sequence() -> None:
    encoder = ResponsesStreamEncoder({"model": "m"}, "m")
    raw = encoder.chunk(_chunk({"role": "assistant", "content": ""}))
    raw += encoder.chunk(_chunk({"content": "Hi"}))
    raw += encoder.chunk(
        _chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get", "arguments": ""}}]})
    )
    raw += encoder.chunk(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}))
    raw += encoder.chunk(_chunk({}, "tool_calls"))
    events = _events(raw + encoder.finish(Usage(input_tokens=3, output_tokens=2)))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[8]["output_index"] == 1 and events[8]["item"]["call_id"] == "call_1"
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["total_tokens"] == 5
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["output"][1]["arguments"] == "{}" and final["output"][1]["status"] == "completed"


def test_stream_encoder_reports_a_broken_stream_as_error_then_failed() -> None:
    encoder = ResponsesStreamEncoder({}, "m")
    raw = encoder.chunk(_chunk({"content": "Hi"})) + encoder.error(UpstreamError("boom"))
    events = _events(raw + encoder.finish(Usage(input_tokens=1, output_tokens=1)))
    assert events[-2]["type"] == "error" and events[-2]["message"] == "boom"
    assert events[-1]["type"] == "response.failed" and events[-1]["response"]["error"]["code"] == "upstream_error"

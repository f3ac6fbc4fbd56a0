"""Anthropic Messages (client side) ↔ canonical chat, and the Messages stream encoder."""

from __future__ import annotations

import orjson

from tokenops.errors import UpstreamError
from tokenops.translate.messages_chat import to_chat, to_message
from tokenops.translate.messages_stream import MessagesStreamEncoder
from tokenops.usage import Usage


def test_request_blocks_become_canonical_messages_with_tool_results_after_their_call() -> None:
    body = to_chat(
        {
            "model": "m",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "user", "content": [{"type": "text", "text": "second"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "ok"}]},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
                        {"type": "text", "text": "and?"},
                    ],
                },
            ],
            "tools": [{"name": "get", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "stop_sequences": ["END"],
            "thinking": {"type": "enabled", "budget_tokens": 10000},
            "metadata": {"user_id": "u1"},
            "some_unknown_field": 1,
        }
    )
    assert body["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}}],
            "reasoning_content": "hmm",  # signed thinking is kept, to go back to an Anthropic upstream
            "reasoning_signature": "s",
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                {"type": "text", "text": "and?"},
            ],
        },
    ]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get", "parameters": {"type": "object"}, "description": "d"}}
    ]
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    assert body["stop"] == ["END"] and body["reasoning_effort"] == "medium" and body["user"] == "u1"
    assert body["max_tokens"] == 100 and "some_unknown_field" not in body


def test_completion_becomes_a_message_with_stop_reason_and_cache_usage() -> None:
    completion = {
        "id": "chatcmpl-abc",
        "choices": [
            {
                "message": {
                    "content": "Checking.",
                    "tool_calls": [{"id": "call_1", "function": {"name": "get", "arguments": '{"a": 1}'}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    usage = Usage(input_tokens=100, output_tokens=7, cached_tokens=60, cache_write_tokens=30, cache_write_1h_tokens=20)
    message = to_message(completion, usage, "tele-lite")
    assert message["id"] == "msg_abc" and message["model"] == "tele-lite" and message["stop_reason"] == "tool_use"
    assert message["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get", "input": {"a": 1}},
    ]
    assert message["usage"] == {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
    }
    assert (
        to_message({"choices": [{"message": {}, "finish_reason": "length"}]}, usage, "m")["stop_reason"] == "max_tokens"
    )


def _events(raw: bytes) -> list[tuple[str, dict[str, object]]]:
    out = []
    for frame in raw.decode().strip().split("\n\n"):
        name, data = frame.split("\n")
        out.append((name.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


def test_stream_encoder_emits_anthropic_event_order_for_text_then_tool() -> None:
    head = b'{"id":"chatcmpl-1","choices":'
    encoder = MessagesStreamEncoder("tele-lite")
    raw = b"".join(
        encoder.chunk(head + orjson.dumps([{"index": 0, "delta": delta, "finish_reason": finish}]) + b"}")
        for delta, finish in (
            ({"role": "assistant", "content": ""}, None),
            ({"content": "Hi"}, None),
            ({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get", "arguments": ""}}]}, None),
            ({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}, None),
            ({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}, None),
            ({}, "tool_calls"),
        )
    )
    raw += encoder.finish(Usage(input_tokens=5, output_tokens=3))
    events = _events(raw)
    assert [name for name, _ in events] == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "get", "input": {}}
    assert events[6][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":'}
    delta = events[9][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"] == {
        "input_tokens": 5,
        "output_tokens": 3,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def test_stream_encoder_error_is_an_error_event_and_nothing_follows() -> None:
    encoder = MessagesStreamEncoder("m")
    [(name, data)] = _events(encoder.error(UpstreamError("boom")))
    assert name == "error" and data == {"type": "error", "error": {"type": "api_error", "message": "boom"}}
    assert encoder.finish(Usage()) == b""

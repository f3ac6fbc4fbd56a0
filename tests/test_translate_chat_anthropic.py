"""Canonical chat ↔ an Anthropic upstream: requests, messages, stream events, usage and errors."""

from __future__ import annotations

import orjson
import pytest

from tokenops.errors import BadRequest, ContextLengthExceeded, ServiceUnavailable, UpstreamError
from tokenops.providers.anthropic import map_anthropic_error
from tokenops.translate.anthropic_stream import AnthropicStreamDecoder
from tokenops.translate.chat_anthropic import to_anthropic, to_completion


def test_request_merges_turns_and_pairs_tool_results_with_rewritten_ids() -> None:
    request = to_anthropic(
        {
            "model": "claude",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "one"},
                {"role": "user", "content": [{"type": "text", "text": "two"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_abc", "type": "function", "function": {"name": "get", "arguments": '{"x":1}'}},
                        {"id": "call_def", "type": "function", "function": {"name": "get", "arguments": "oops"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "callabc", "content": "A"},
                {"role": "tool", "tool_call_id": "something-else", "content": [{"type": "text", "text": "B"}]},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}}],
                },
            ],
            "tools": [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "get"}},
            "parallel_tool_calls": False,
            "stop": "END",
            "temperature": 1.5,
            "user": "u1",
            "unknown": True,
        },
        default_max_tokens=4096,
    )
    assert request["system"] == [{"type": "text", "text": "sys"}]
    assert request["max_tokens"] == 4096 and request["stop_sequences"] == ["END"] and request["temperature"] == 1.0
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]
    assert request["messages"][0]["content"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert request["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_abc", "name": "get", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_def", "name": "get", "input": {}},
    ]
    assert request["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_abc", "content": "A"},
        {"type": "tool_result", "tool_use_id": "call_def", "content": "B"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
    ]
    assert request["tools"] == [{"name": "get", "input_schema": {"type": "object"}}]
    assert request["tool_choice"] == {"type": "tool", "name": "get", "disable_parallel_tool_use": True}
    assert request["metadata"] == {"user_id": "u1"} and "unknown" not in request


def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens() -> None:
    body = {
        "model": "c",
        "messages": [{"role": "user", "content": "x"}],
        "reasoning_effort": "high",
        "max_tokens": 5000,
    }
    request = to_anthropic(body, 4096)
    assert request["thinking"] == {"type": "enabled", "budget_tokens": 4999}
    assert "thinking" not in to_anthropic({**body, "max_tokens": 500}, 4096)


def test_message_becomes_a_completion_with_cache_usage() -> None:
    completion, usage = to_completion(
        {
            "id": "msg_1",
            "model": "claude",
            "content": [
                {"type": "thinking", "thinking": "hmm"},
                {"type": "text", "text": "Hi"},
                {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"a": 1}},
            ],
            "stop_reason": "tool_use",
            "usage": {
                "input_tokens": 10,
                "output_tokens": 4,
                "cache_read_input_tokens": 50,
                "cache_creation_input_tokens": 20,
            },
        },
        "fallback",
    )
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Hi" and choice["message"]["reasoning_content"] == "hmm"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get", "arguments": '{"a":1}'}
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.cache_write_tokens) == (80, 4, 50, 20)
    assert completion["usage"]["prompt_tokens"] == 80
    assert completion["usage"]["prompt_tokens_details"] == {"cached_tokens": 50, "cache_write_tokens": 20}


def test_stream_decoder_turns_events_into_chunks_and_final_usage() -> None:
    decoder = AnthropicStreamDecoder("claude")
    events = [
        {
            "type": "message_start",
            "message": {"id": "msg_1", "usage": {"input_tokens": 9, "cache_read_input_tokens": 3}},
        },
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "get"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 6}},
        {"type": "message_stop"},
    ]
    chunks = []
    for event in events:
        chunks += [orjson.loads(c) for c in decoder.feed(str(event["type"]), event)]
        if event["type"] == "message_start":
            assert decoder.usage is None  # not final until message_delta
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"content": "Hi"},
        {"tool_calls": [{"index": 0, "id": "t1", "type": "function", "function": {"name": "get", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]},
        {},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls" and chunks[0]["id"] == "msg_1"
    assert decoder.done and decoder.usage is not None
    assert (decoder.usage.input_tokens, decoder.usage.output_tokens, decoder.usage.cached_tokens) == (12, 6, 3)


def test_stream_error_event_raises() -> None:
    decoder = AnthropicStreamDecoder("claude")
    with pytest.raises(ServiceUnavailable):
        decoder.feed("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    with pytest.raises(UpstreamError):
        decoder.feed("error", {"type": "error", "error": {"type": "api_error", "message": "x"}})


def test_upstream_errors_keep_their_meaning() -> None:
    def body(kind: str, message: str) -> bytes:
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})

    too_long = map_anthropic_error(400, body("invalid_request_error", "prompt is too long: 210000 tokens > 200000"))
    assert isinstance(too_long, ContextLengthExceeded) and too_long.code == "context_length_exceeded"
    assert isinstance(map_anthropic_error(529, body("overloaded_error", "Overloaded")), ServiceUnavailable)
    assert isinstance(map_anthropic_error(400, body("invalid_request_error", "bad field")), BadRequest)
    assert isinstance(map_anthropic_error(500, body("api_error", "oops")), UpstreamError)

"""Reasoning streams through to each client API in its own form, and Anthropic's signed thinking goes back.

Responses clients get a reasoning item (its summary streamed), Messages clients a thinking block,
Chat Completions clients the `reasoning_content` deltas as the upstream sent them; a thinking
block's signature, which Anthropic needs to see again in the next turn of a tool loop, is
carried from the upstream's stream to the client and from the client's next request back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.conftest import Gateway, ServerThread, start_gateway
from tests.test_usage_details import catalog
from tokenops.providers.openai_compat import _outbound
from tokenops.simulator.engine import SimConfig
from tokenops.simulator.server import SimServer
from tokenops.translate.anthropic_stream import AnthropicStreamDecoder
from tokenops.translate.chat_anthropic import to_anthropic
from tokenops.translate.messages_chat import to_chat
from tokenops.translate.messages_stream import MessagesStreamEncoder

KEY = "sk-details"
MESSAGES = [{"role": "user", "content": "Why did cell 7 drop its calls at 03:00?"}]


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    upstream = ServerThread(SimServer(SimConfig(reasoning_tokens=6))).start()
    gateway = start_gateway(catalog(upstream.url, "openai"), tmp_path / "home")
    yield gateway
    gateway.server.stop()
    upstream.stop()


def test_a_responses_stream_carries_the_reasoning_as_a_reasoning_item(gw: Gateway) -> None:
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0) as api:
        events = list(api.responses.create(model="r1", input=MESSAGES, stream=True))  # type: ignore[arg-type]
        whole = api.responses.create(model="r1", input=MESSAGES)  # type: ignore[arg-type]
    kinds = [e.type for e in events]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")
    thought = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    done = events[-1]
    assert done.type == "response.completed"
    [reasoning, message] = done.response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == thought and len(thought.split()) == 6
    assert message.type == "message"
    assert [o.type for o in whole.output] == ["reasoning", "message"] and whole.output[0].summary[0].text == thought
    assert done.response.usage is not None and done.response.usage.output_tokens_details.reasoning_tokens == 6


def test_a_messages_stream_carries_the_reasoning_as_a_thinking_block(gw: Gateway) -> None:
    with anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0) as claude, claude.messages.stream(
        model="r1", max_tokens=256, messages=MESSAGES  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert len(final.content[0].thinking.split()) == 6  # type: ignore[union-attr]


def _events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], orjson.loads(lines["data"])))
    return out


def test_an_anthropic_signature_reaches_the_client_and_comes_back_in_the_next_turn() -> None:
    decoder = AnthropicStreamDecoder("claude")
    upstream = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 9}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "check the trunk"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}}),
    ]  # fmt: skip
    chunks = [c for name, data in upstream for c in decoder.feed(name, data)]
    encoder = MessagesStreamEncoder("claude")
    sent = _events(b"".join(encoder.chunk(c) for c in chunks).decode())
    deltas = [d["delta"] for name, d in sent if name == "content_block_delta"]
    assert deltas == [{"type": "thinking_delta", "thinking": "check the trunk"},
                      {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}]  # fmt: skip
    next_turn = {
        "model": "claude", "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "Why?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "check the trunk", "signature": "EqQBCgIYAhIM"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_alarm", "input": {"id": "A-1042"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "trunk down"}]},
        ],
    }  # fmt: skip
    chat = to_chat(next_turn)
    back = to_anthropic(chat, 100)
    assert back["messages"][1]["content"][0] == {
        "type": "thinking", "thinking": "check the trunk", "signature": "EqQBCgIYAhIM"}  # fmt: skip
    assert all("reasoning_signature" not in m and "reasoning_content" not in m
               for m in _outbound(chat)["messages"])  # an OpenAI-compatible upstream never sees them  # fmt: skip


def test_vllm_reasoning_field_is_read_like_reasoning_content() -> None:
    """Newer vLLM names the delta field `reasoning`; it streams to a Messages client as thinking all the same."""
    encoder = MessagesStreamEncoder("m")
    choice = {"index": 0, "delta": {"reasoning": "think"}, "finish_reason": None}
    chunk = orjson.dumps({"id": "c1", "choices": [choice]})
    sent = _events(encoder.chunk(chunk).decode())
    assert ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                    "delta": {"type": "thinking_delta", "thinking": "think"}}) in sent  # fmt: skip

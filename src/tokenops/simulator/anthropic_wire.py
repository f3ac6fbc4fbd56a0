"""The simulated model's replies in Anthropic's Messages wire format, paced like a real model.

The request is read through the same translator the gateway uses for its Messages
clients, and the reply is rendered from the OpenAI-format reply through the Messages
translators, so the SDK-checked event order is what the Anthropic adapter meets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from tokenops.simulator import openai_wire
from tokenops.simulator.engine import SimConfig, SimReply
from tokenops.translate import messages_chat
from tokenops.translate.messages_stream import MessagesStreamEncoder
from tokenops.usage import Usage


def engine_body(data: dict[str, Any]) -> dict[str, Any]:
    """The engine's (chat-form) view of an Anthropic request."""
    return messages_chat.to_chat(data)


def usage(reply: SimReply, config: SimConfig | None = None) -> Usage:
    if config is None:
        return Usage(input_tokens=reply.prompt_tokens, output_tokens=reply.completion_tokens)
    cached = min(config.cached_tokens, reply.prompt_tokens)
    written = min(config.cache_write_tokens, reply.prompt_tokens - cached)
    long_writes = min(config.cache_write_1h_tokens, written)
    return Usage(input_tokens=reply.prompt_tokens, output_tokens=reply.completion_tokens, cached_tokens=cached,
                 cache_write_tokens=written, cache_write_1h_tokens=long_writes)  # fmt: skip


def error_body(reply: SimReply, config: SimConfig) -> dict[str, Any]:
    status, code, message = reply.error or (500, "error", "error")
    if code == "context_length_exceeded":
        message = f"prompt is too long: {reply.prompt_tokens} tokens > {config.context_window} maximum"
    kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def message(reply: SimReply, model: str, rid: str, config: SimConfig | None = None) -> dict[str, Any]:
    return messages_chat.to_message(openai_wire.completion(reply, model, rid), usage(reply, config), model)


async def stream(reply: SimReply, config: SimConfig, model: str, rid: str) -> AsyncIterator[bytes]:
    """Framed SSE events (`event:` and `data:` lines) of a streamed reply."""
    encoder = MessagesStreamEncoder(model, input_tokens=reply.prompt_tokens)
    async for payload in openai_wire.stream(reply, config, model, rid, include_usage=False):
        yield encoder.chunk(payload)
    yield encoder.finish(usage(reply, config))

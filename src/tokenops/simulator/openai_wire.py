"""The simulated model's replies in the OpenAI wire format, paced like a real model."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from tokenops.simulator.engine import SimConfig, SimReply


class StreamCut(Exception):
    """The simulated upstream drops the connection mid-stream."""


def error_body(reply: SimReply) -> dict[str, Any]:
    status, code, message = reply.error or (500, "error", "error")
    kind = "invalid_request_error" if status == 400 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def usage(reply: SimReply, config: SimConfig | None = None) -> dict[str, Any]:
    out = reply.completion_tokens
    cached = min(config.cached_tokens, reply.prompt_tokens) if config is not None else 0
    body: dict[str, Any] = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": out,
        "total_tokens": reply.prompt_tokens + out,
    }
    if config is not None and config.usage_style == "deepseek":
        body["prompt_cache_hit_tokens"] = cached
        body["prompt_cache_miss_tokens"] = reply.prompt_tokens - cached
    else:
        body["prompt_tokens_details"] = {"cached_tokens": cached}
    if reply.reasoning:
        body["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
    return body


def completion(reply: SimReply, model: str, rid: str, config: SimConfig | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.pieces) or None}
    if reply.reasoning:
        message["reasoning_content"] = "".join(reply.reasoning)
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
        "usage": usage(reply, config),
    }


async def stream(reply: SimReply, config: SimConfig, model: str, rid: str, include_usage: bool) -> AsyncIterator[bytes]:
    """The `data:` payloads of a streamed reply, at the configured pace."""
    created = int(time.time())
    head = b'{"id":"%s","object":"chat.completion.chunk","created":%d,"model":"%s","choices":' % (
        rid.encode(),
        created,
        model.encode(),
    )

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return head + orjson.dumps([choice]) + b"}"

    if config.ttft_ms:
        await asyncio.sleep(config.ttft_ms / 1000)
    yield chunk({"role": "assistant", "content": ""})
    gap = 1 / config.tokens_per_s if config.tokens_per_s else 0.0
    if reply.tool_calls:
        for i, call in enumerate(reply.tool_calls):
            fn = call["function"]
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                }
            )
            args = fn["arguments"]
            step = max(1, len(args) // 4)
            for j in range(0, len(args), step):
                if gap:
                    await asyncio.sleep(gap)
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[j : j + step]}}]})
    for piece in reply.reasoning:
        if gap:
            await asyncio.sleep(gap)
        yield chunk({"reasoning_content": piece})
    for n, piece in enumerate(reply.pieces):
        if reply.cut_after and n >= reply.cut_after:
            raise StreamCut
        if gap:
            await asyncio.sleep(gap)
        yield chunk({"content": piece})
    yield chunk({}, reply.finish_reason)
    if include_usage and not config.omit_usage:
        yield head + b'[],"usage":' + orjson.dumps(usage(reply, config)) + b"}"


def embeddings(vectors: list[list[float]], tokens: int, model: str, encoding_format: Any) -> dict[str, Any]:
    """An embeddings answer; `base64` packs little-endian float32 as the OpenAI API does."""
    items: list[dict[str, Any]] = []
    for i, vector in enumerate(vectors):
        value: Any = vector
        if encoding_format == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        items.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": items,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }

"""An Anthropic-compatible upstream's SSE events → canonical chat chunks and `Usage`."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tokenops.errors import ServiceUnavailable, TokenopsError, UpstreamError
from tokenops.translate.chat_anthropic import finish_reason
from tokenops.translate.usage import from_anthropic
from tokenops.usage import Usage


def stream_error(data: dict[str, Any]) -> TokenopsError:
    found = data.get("error")
    err: dict[str, Any] = found if isinstance(found, dict) else {}
    message = f"upstream error mid-stream: {err.get('message', 'unknown')}"
    if err.get("type") == "overloaded_error":
        return ServiceUnavailable(message, code="upstream_overloaded", headers={"retry-after": "1"})
    return UpstreamError(message)


class AnthropicStreamDecoder:
    """Feed it each event; it returns the canonical chunk payloads that event stands for."""

    def __init__(self, model: str) -> None:
        self.usage: Usage | None = None
        self.done = False
        self._head = b""
        self._model = model
        self._tools: dict[int, int] = {}  # block index → canonical tool-call index
        self._usage: dict[str, Any] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._head + orjson.dumps([choice]) + b"}"

    def _merge_usage(self, data: Any, final: bool) -> None:
        """`message_start` holds the input side; only `message_delta` makes the usage final.

        A stream cut before `message_delta` thus has no upstream usage, and what it
        generated is counted instead of trusting the start's placeholder output count.
        """
        if isinstance(data, dict):
            self._usage.update({k: v for k, v in data.items() if isinstance(v, int | dict)})  # dict: cache_creation
        if final:
            self.usage = from_anthropic(self._usage)

    def feed(self, name: str, data: dict[str, Any]) -> list[bytes]:
        kind = data.get("type", name)
        if kind == "message_start":
            message = data.get("message") or {}
            head = {"id": message.get("id") or "msg", "object": "chat.completion.chunk", "created": int(time.time())}
            head["model"] = message.get("model") or self._model
            self._head = orjson.dumps(head)[:-1] + b',"choices":'
            self._merge_usage(message.get("usage"), final=False)
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                position = self._tools[data.get("index", 0)] = len(self._tools)
                function = {"name": block.get("name"), "arguments": ""}
                call = {"index": position, "id": block.get("id"), "type": "function", "function": function}
                return [self._chunk({"tool_calls": [call]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "content_block_delta":
            return self._delta(data.get("index", 0), data.get("delta") or {})
        if kind == "message_delta":
            self._merge_usage(data.get("usage"), final=True)
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, finish_reason(reason))] if reason else []
        if kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise stream_error(data)
        return []

    def _delta(self, index: int, delta: dict[str, Any]) -> list[bytes]:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "signature_delta" and delta.get("signature"):  # the client needs it to send the thinking back
            return [self._chunk({"reasoning_signature": delta["signature"]})]
        if kind == "input_json_delta" and delta.get("partial_json") and index in self._tools:
            call = {"index": self._tools[index], "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        return []

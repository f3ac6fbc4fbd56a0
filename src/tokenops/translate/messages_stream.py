"""Canonical chat chunks → Anthropic Messages SSE events, in the order Anthropic sends them.

`message_start`, then per content block `content_block_start`, its deltas
(`text_delta`, `input_json_delta`, `thinking_delta`) and `content_block_stop`, then
`message_delta` with the stop reason and usage, then `message_stop`.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.errors import TokenopsError
from tokenops.translate.messages_chat import message_id, stop_reason
from tokenops.translate.reasoning import reasoning_text
from tokenops.translate.usage import to_anthropic
from tokenops.usage import Usage


def event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessagesStreamEncoder:
    def __init__(self, model: str, input_tokens: int = 0) -> None:
        self._model = model
        self._input_tokens = input_tokens
        self._started = False
        self._failed = False
        self._index = -1
        self._open: str | None = None  # kind of the open content block
        self._tools: dict[int, int] = {}  # canonical tool-call index → block index
        self._finish: Any = None

    def _start(self, chunk_id: Any) -> bytes:
        self._started = True
        message: dict[str, Any] = {
            "id": message_id(chunk_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return event("message_start", {"type": "message_start", "message": message}) + event("ping", {"type": "ping"})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        return out + event(
            "content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block}
        )

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        where = self._index if index is None else index
        return event("content_block_delta", {"type": "content_block_delta", "index": where, "delta": delta})

    def chunk(self, payload: bytes) -> bytes:
        data = orjson.loads(payload)
        out = b"" if self._started else self._start(data.get("id"))
        for choice in data.get("choices") or ():
            delta = choice.get("delta") or {}
            reasoning = reasoning_text(delta)
            if isinstance(reasoning, str) and reasoning:
                if self._open != "thinking":
                    out += self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out += self._delta({"type": "thinking_delta", "thinking": reasoning})
            signature = delta.get("reasoning_signature")
            if isinstance(signature, str) and signature and self._open == "thinking":
                out += self._delta({"type": "signature_delta", "signature": signature})
            text = delta.get("content")
            if isinstance(text, str) and text:
                if self._open != "text":
                    out += self._open_block("text", {"type": "text", "text": ""})
                out += self._delta({"type": "text_delta", "text": text})
            for call in delta.get("tool_calls") or ():
                out += self._tool_delta(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return out

    def _tool_delta(self, call: dict[str, Any]) -> bytes:
        fn = call.get("function") or {}
        position = call.get("index", 0)
        out = b""
        if position not in self._tools:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{position}",
                "name": fn.get("name") or "",
                "input": {},
            }
            out += self._open_block("tool_use", block)
            self._tools[position] = self._index
        arguments = fn.get("arguments")
        if isinstance(arguments, str) and arguments:
            out += self._delta({"type": "input_json_delta", "partial_json": arguments}, self._tools[position])
        return out

    def finish(self, usage: Usage) -> bytes:
        if self._failed:
            return b""
        out = b"" if self._started else self._start("")
        out += self._close()
        delta = {"stop_reason": stop_reason(self._finish), "stop_sequence": None}
        out += event("message_delta", {"type": "message_delta", "delta": delta, "usage": to_anthropic(usage)})
        return out + event("message_stop", {"type": "message_stop"})

    def error(self, err: TokenopsError) -> bytes:
        self._failed = True
        return event("error", {"type": "error", "error": {"type": err.anthropic_type, "message": err.message}})

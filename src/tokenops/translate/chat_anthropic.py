"""Canonical chat ↔ an Anthropic-compatible upstream: our request out, its message back.

Anthropic wants one system prompt, strictly paired `tool_use`/`tool_result` ids and
content blocks; consecutive turns of one role are merged, and tool-result ids the
client rewrote (`call_abc` sent back as `callabc`) are matched back to their call.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from tokenops.translate.messages_chat import tool_input
from tokenops.translate.usage import from_anthropic, to_openai
from tokenops.usage import Usage

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_DATA_URL = re.compile(r"^data:([^;,]+);base64,(.*)$", re.DOTALL)


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(str(stop_reason), "stop")


def _tool_id(raw: Any) -> str:
    return _ID_CHARS.sub("_", str(raw or "")) or "toolu_unknown"


def _loose(raw: str) -> str:
    return re.sub(r"[^a-z0-9]", "", raw.lower())


def _image(part: dict[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = str(image.get("url", "") if isinstance(image, dict) else image or "")
    found = _DATA_URL.match(url)
    if found:
        return {"type": "image", "source": {"type": "base64", "media_type": found[1], "data": found[2]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, str) and part:
            blocks.append({"type": "text", "text": part})
        elif isinstance(part, dict) and part.get("type") in ("text", "input_text") and part.get("text"):
            block: dict[str, Any] = {"type": "text", "text": str(part["text"])}
            if part.get("cache_control"):
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif isinstance(part, dict) and part.get("type") == "image_url":
            blocks.append(_image(part))
    return blocks


class _Conversation:
    """Builds Anthropic's alternating turns, remembering the tool calls still awaiting results."""

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._pending: list[str] = []

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == role:
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": role, "content": blocks})

    def assistant(self, message: dict[str, Any]) -> None:
        blocks = _blocks(message.get("content"))
        signature = message.get("reasoning_signature")
        if isinstance(signature, str) and signature:  # signed thinking goes back first, as Anthropic requires
            blocks.insert(0, {"type": "thinking", "thinking": str(message.get("reasoning_content") or ""),
                              "signature": signature})  # fmt: skip
        self._pending = []
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            call_id = _tool_id(call.get("id"))
            self._pending.append(call_id)
            blocks.append(
                {"type": "tool_use", "id": call_id, "name": fn.get("name"), "input": tool_input(fn.get("arguments"))}
            )
        self.add("assistant", blocks)

    def tool_result(self, message: dict[str, Any]) -> None:
        content = message.get("content")
        text = content if isinstance(content, str) else "\n".join(b["text"] for b in _blocks(content) if "text" in b)
        block = {
            "type": "tool_result",
            "tool_use_id": self._match(str(message.get("tool_call_id") or "")),
            "content": text,
        }
        self.add("user", [block])

    def _match(self, raw: str) -> str:
        wanted = _tool_id(raw)
        if wanted in self._pending:
            self._pending.remove(wanted)
            return wanted
        loose = _loose(raw)
        found = next((p for p in self._pending if _loose(p) == loose), None)
        if found is None and self._pending:
            found = self._pending[0]
        if found is None:
            return wanted
        self._pending.remove(found)
        return found


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            continue
        entry: dict[str, Any] = {"name": fn["name"], "input_schema": fn.get("parameters") or {"type": "object"}}
        if fn.get("description"):
            entry["description"] = fn["description"]
        out.append(entry)
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None = None
    if choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        out = {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    elif choice == "auto" or parallel is False:
        out = {"type": "auto"}
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def to_anthropic(body: dict[str, Any], default_max_tokens: int) -> dict[str, Any]:
    """The Anthropic Messages request for a canonical chat body."""
    conv = _Conversation()
    for message in body.get("messages") or ():
        role = message.get("role")
        if role in ("system", "developer"):
            conv.system.extend(_blocks(message.get("content")))
        elif role == "assistant":
            conv.assistant(message)
        elif role in ("tool", "function"):
            conv.tool_result(message)
        else:
            conv.add("user", _blocks(message.get("content")) or [{"type": "text", "text": "."}])
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    out: dict[str, Any] = {"model": body.get("model"), "max_tokens": limit, "messages": conv.messages}
    if conv.system:
        out["system"] = conv.system
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    for name in ("top_p", "top_k", "stream"):
        if body.get(name) is not None:
            out[name] = body[name]
    budget = min(THINKING_BUDGETS.get(str(body.get("reasoning_effort")), 0), limit - 1)
    if budget >= 1024:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif isinstance(body.get("temperature"), (int, float)):
        out["temperature"] = min(float(body["temperature"]), 1.0)
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    return out


def to_completion(message: dict[str, Any], model: str) -> tuple[dict[str, Any], Usage | None]:
    """The canonical chat completion (and usage) of an Anthropic message."""
    texts: list[str] = []
    thinking: list[str] = []
    signature = ""
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
            signature = str(block.get("signature") or signature)
        elif kind == "tool_use":
            function = {"name": block.get("name"), "arguments": orjson.dumps(block.get("input") or {}).decode()}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
        if signature:
            reply["reasoning_signature"] = signature
    if calls:
        reply["tool_calls"] = calls
    from_usage = from_anthropic(message.get("usage"))
    completion: dict[str, Any] = {
        "id": str(message.get("id") or "msg"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(message.get("model") or model),
        "choices": [
            {"index": 0, "message": reply, "logprobs": None, "finish_reason": finish_reason(message.get("stop_reason"))}
        ],
    }
    if from_usage is not None:
        completion["usage"] = to_openai(from_usage)
    return completion, from_usage

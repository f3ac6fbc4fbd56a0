"""Anthropic Messages (client side) ↔ canonical chat: the request in, the completion out.

`tool_use` blocks become `tool_calls`, `tool_result` blocks become `tool` messages
placed right after the assistant turn that called them, images pass through as
`image_url` parts, and `cache_control` marks stay on the text parts that carry them.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.translate.reasoning import reasoning_text
from tokenops.translate.usage import to_anthropic
from tokenops.usage import Usage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_EFFORT_BUDGETS = ((4096, "low"), (16384, "medium"))


def stop_reason(finish_reason: Any) -> str:
    return STOP_REASONS.get(str(finish_reason), "end_turn")


def image_part(block: dict[str, Any]) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _text_part(block: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": str(block.get("text", ""))}
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _parts(blocks: list[Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(_text_part(block))
        elif isinstance(block, dict) and block.get("type") == "image":
            image = image_part(block)
            if image is not None:
                parts.append(image)
    return parts


def _simplify(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """One plain text part is sent as a string, as most upstreams and clients expect."""
    if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
        return str(parts[0]["text"])
    return parts


def _tool_result(block: dict[str, Any]) -> list[dict[str, Any]]:
    """A tool message; images in the result follow as a user message (tool messages carry text only)."""
    content = block.get("content")
    parts = _parts(content) if isinstance(content, list) else [{"type": "text", "text": str(content or "")}]
    texts = [p for p in parts if p["type"] == "text"]
    images = [p for p in parts if p["type"] != "text"]
    text = "\n".join(str(p["text"]) for p in texts)
    if block.get("is_error"):
        text = "Error: " + text if text else "Error"
    out: list[dict[str, Any]] = [{"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}]
    if images:
        out.append({"role": "user", "content": images})
    return out


def _user(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"role": "user", "content": str(content or "")}]
    out: list[dict[str, Any]] = []
    pending: list[Any] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            out.extend(_tool_result(block))
        else:
            pending.append(block)
    parts = _parts(pending)
    if parts:
        out.append({"role": "user", "content": _simplify(parts)})
    return out


def _assistant(content: Any) -> dict[str, Any]:
    if not isinstance(content, list):
        return {"role": "assistant", "content": str(content or "")}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: dict[str, str] = {}
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking" and isinstance(block.get("signature"), str) and block["signature"]:
            thinking = {"reasoning_content": str(block.get("thinking", "")), "reasoning_signature": block["signature"]}
        elif block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") in ("tool_use", "server_tool_use"):
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": str(block.get("name", "")), "arguments": arguments}
            calls.append({"id": str(block.get("id", "")), "type": "function", "function": function})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return {**message, **thinking}


def _system(system: Any) -> dict[str, Any] | None:
    if isinstance(system, str):
        return {"role": "system", "content": system} if system else None
    if isinstance(system, list):
        parts = _parts(system)
        return {"role": "system", "content": _simplify(parts)} if parts else None
    return None


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict) or "input_schema" not in tool:
            continue  # Anthropic's server tools (web search, ...) have no canonical form
        function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {}}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def tool_choice(choice: Any) -> tuple[Any, bool | None]:
    """Canonical `tool_choice` and `parallel_tool_calls` from Anthropic's `tool_choice`."""
    if not isinstance(choice, dict):
        return None, None
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "any":
        return "required", parallel
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    if kind == "none":
        return "none", parallel
    return "auto", parallel


def effort(thinking: Any) -> str | None:
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    budget = budget if isinstance(budget, int) else 0
    return next((name for limit, name in _EFFORT_BUDGETS if budget < limit), "high")


def to_chat(data: dict[str, Any]) -> dict[str, Any]:
    """The canonical chat body of a (validated) Messages request; unknown fields are left out."""
    messages: list[dict[str, Any]] = []
    system = _system(data.get("system"))
    if system is not None:
        messages.append(system)
    for message in data.get("messages") or ():
        if message.get("role") == "assistant":
            messages.append(_assistant(message.get("content")))
        else:
            messages.extend(_user(message.get("content")))
    body: dict[str, Any] = {"model": data["model"], "messages": messages, "max_tokens": data.get("max_tokens")}
    tools = _tools(data.get("tools"))
    if tools:
        body["tools"] = tools
        choice, parallel = tool_choice(data.get("tool_choice"))
        if choice is not None:
            body["tool_choice"] = choice
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
    for name in ("temperature", "top_p", "top_k", "stream"):
        if data.get(name) is not None:
            body[name] = data[name]
    if data.get("stop_sequences"):
        body["stop"] = data["stop_sequences"]
    reasoning = effort(data.get("thinking"))
    if reasoning is not None:
        body["reasoning_effort"] = reasoning
    user = (data.get("metadata") or {}).get("user_id") if isinstance(data.get("metadata"), dict) else None
    if isinstance(user, str) and user:
        body["user"] = user
    return body


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as the JSON object Anthropic's `input` must be."""
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def message_id(completion_id: Any) -> str:
    raw = str(completion_id or "")
    return raw if raw.startswith("msg_") else "msg_" + raw.removeprefix("chatcmpl-")


def to_message(completion: dict[str, Any], usage: Usage, model: str) -> dict[str, Any]:
    """The Anthropic message for a canonical chat completion."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = reasoning_text(message)
    if reasoning:
        signature = str(message.get("reasoning_signature") or "")
        content.append({"type": "thinking", "thinking": reasoning, "signature": signature})
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        block = {
            "type": "tool_use",
            "id": call.get("id"),
            "name": fn.get("name"),
            "input": tool_input(fn.get("arguments")),
        }
        content.append(block)
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": to_anthropic(usage),
    }

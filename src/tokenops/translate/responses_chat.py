"""OpenAI Responses (client side) ↔ canonical chat: the request in, the response object out.

`input` items become chat messages: `function_call` items join the assistant turn
before them as `tool_calls`, `function_call_output` items become `tool` messages,
`developer` is sent as `system` (which every upstream accepts). Reasoning items and
references to stored items have no canonical form and are dropped.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from tokenops.translate.reasoning import reasoning_text
from tokenops.translate.usage import to_responses
from tokenops.usage import Usage

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "refusal"})


def new_id(prefix: str) -> str:
    return prefix + "_" + secrets.token_hex(12)


def _part(part: Any) -> dict[str, Any] | None:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return {"type": "text", "text": str(part.get("text") or part.get("refusal") or "")}
    if kind == "input_image" and part.get("image_url"):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: part[k] for k in ("file_id", "file_data", "filename") if part.get(k)}
        return {"type": "file", "file": file} if file else None
    return None


def _content(content: Any, role: str) -> str | list[dict[str, Any]]:
    if not isinstance(content, list):
        return str(content or "")
    parts = [p for p in map(_part, content) if p is not None]
    if role == "assistant" or all(p["type"] == "text" for p in parts):
        # one string: assistant turns must be text, and most upstreams prefer it
        return "".join(str(p.get("text", "")) for p in parts if p["type"] == "text")
    return parts


def _output_text(output: Any) -> str:
    if isinstance(output, list):
        return "".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
    return output if isinstance(output, str) else str(output or "")


def _messages(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role", "user")
            role = "system" if role == "developer" else role
            messages.append({"role": role, "content": _content(item.get("content"), role)})
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id") or item.get("id") or ""),
                "type": "function",
                "function": {"name": str(item.get("name", "")), "arguments": str(item.get("arguments") or "{}")},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                if not last["content"]:
                    last["content"] = None
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = str(item.get("call_id", ""))
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _output_text(item.get("output"))})
    return messages


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue  # hosted tools (web search, file search, ...) have no canonical form
        function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice if choice in ("auto", "none", "required") else None


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": "json_object"}


def to_chat(data: dict[str, Any]) -> dict[str, Any]:
    """The canonical chat body of a (validated) Responses request; unknown fields are left out."""
    messages = _messages(data.get("input") or [])
    if isinstance(data.get("instructions"), str) and data["instructions"]:
        messages.insert(0, {"role": "system", "content": data["instructions"]})
    body: dict[str, Any] = {"model": data["model"], "messages": messages}
    tools = _tools(data.get("tools"))
    if tools:
        body["tools"] = tools
        choice = _tool_choice(data.get("tool_choice"))
        if choice is not None:
            body["tool_choice"] = choice
        if isinstance(data.get("parallel_tool_calls"), bool):
            body["parallel_tool_calls"] = data["parallel_tool_calls"]
    if data.get("max_output_tokens") is not None:
        body["max_tokens"] = data["max_output_tokens"]
    for name in ("temperature", "top_p", "user", "stream"):
        if data.get(name) is not None:
            body[name] = data[name]
    reasoning = data.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        body["reasoning_effort"] = reasoning["effort"]
    response_format = _response_format(data.get("text"))
    if response_format is not None:
        body["response_format"] = response_format
    return body


def reasoning_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    """The model's reasoning as an output item: its text as the item's summary."""
    return {"id": item_id, "type": "reasoning", "status": status, "summary": [{"type": "summary_text", "text": text}]}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [part]}


def call_item(item_id: str, call: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": str(call.get("id") or item_id),
        "name": str(fn.get("name") or ""),
        "arguments": str(fn.get("arguments") or ""),
    }


def envelope(data: dict[str, Any], response_id: str, model: str, status: str) -> dict[str, Any]:
    """The response object around the output: what the request asked for, echoed back."""
    reasoning = data.get("reasoning") if isinstance(data.get("reasoning"), dict) else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": data.get("instructions"),
        "max_output_tokens": data.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": data.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": (reasoning or {}).get("effort"), "summary": (reasoning or {}).get("summary")},
        "store": False,
        "temperature": data.get("temperature"),
        "text": data.get("text") or {"format": {"type": "text"}},
        "tool_choice": data.get("tool_choice") or "auto",
        "tools": [t for t in data.get("tools") or () if isinstance(t, dict)],
        "top_p": data.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": data.get("user"),
        "metadata": data.get("metadata") or {},
    }


def finish(response: dict[str, Any], finish_reason: Any, usage: Usage) -> None:
    """Set the final status: a reply cut at the token limit is `incomplete`, as OpenAI reports it."""
    if finish_reason == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"
    response["usage"] = to_responses(usage)


def to_response(completion: dict[str, Any], usage: Usage, data: dict[str, Any], model: str) -> dict[str, Any]:
    """The Responses API object for a canonical chat completion."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    response = envelope(data, new_id("resp"), model, "completed")
    reasoning = reasoning_text(message)
    if reasoning:
        response["output"].append(reasoning_item(new_id("rs"), reasoning))
    text = message.get("content")
    if isinstance(text, str) and text:
        response["output"].append(message_item(new_id("msg"), text))
    for call in message.get("tool_calls") or ():
        response["output"].append(call_item(new_id("fc"), call))
    finish(response, choice.get("finish_reason"), usage)
    return response

"""Parse and validate request bodies into the canonical (OpenAI Chat Completions) form.

Only what the gateway needs is checked; everything else passes through to the upstream
untouched (`tools`, `tool_choice`, sampling parameters, unknown extra fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tokenops.errors import BadRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MAX_OUTPUT_CAP = 1_000_000
MAX_N = 8


@dataclass(slots=True)
class ChatRequest:
    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool
    max_output: int | None
    end_user: str | None
    want_cost: bool = False  # `"usage": {"include": true}`: the usage object says what the request cost


@dataclass(slots=True)
class EmbeddingRequest:
    body: dict[str, Any]
    model: str
    inputs: list[str]
    end_user: str | None


def load_json(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise BadRequest("request body is empty; send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = "not valid UTF-8" if "utf-8" in str(exc).lower() else "not valid JSON"
        raise BadRequest(f"request body is {reason}: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    return data


def _model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a non-empty string", param="model")
    return model


_JSON_KINDS = {str: "a string", list: "an array", dict: "an object", bool: "a boolean"}


def _bounded_int(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        got = f"{value:g}" if isinstance(value, float) else _JSON_KINDS.get(type(value), "another type")
        raise BadRequest(f"'{name}' must be an integer between {low} and {high}, got {got}", param=name)
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}, got {value}", param=name)
    return value


def _end_user(data: dict[str, Any]) -> str | None:
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise BadRequest("'user' must be a string", param="user")
    return user or None


def check_role(value: Any, allowed: frozenset[str], where: str) -> None:
    """A role must be one of the allowed strings (a list or an object is a 400, not a lookup error)."""
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest(f"{where} must be one of {', '.join(sorted(allowed))}", param=where)


def check_parts(content: Any, where: str) -> None:
    """Content given as an array holds objects, each with a string `type`."""
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise BadRequest(f"{at} must be an object", param=at)
        if not isinstance(part.get("type"), str):
            raise BadRequest(f"{at}.type must be a string", param=f"{at}.type")


def _check_function(value: Any, where: str, needs_arguments: bool) -> None:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object", param=where)
    if not isinstance(value.get("name"), str):
        raise BadRequest(f"{where}.name must be a string", param=f"{where}.name")
    arguments = value.get("arguments")
    if needs_arguments and arguments is not None and not isinstance(arguments, str):
        raise BadRequest(f"{where}.arguments must be a string of JSON", param=f"{where}.arguments")


def _check_tool_calls(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be an array", param=where)
    for j, call in enumerate(value):
        at = f"{where}[{j}]"
        if not isinstance(call, dict):
            raise BadRequest(f"{at} must be an object", param=at)
        _check_function(call.get("function"), f"{at}.function", needs_arguments=True)


def _check_tools(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise BadRequest("'tools' must be an array", param="tools")
    for j, tool in enumerate(value):
        at = f"tools[{j}]"
        if not isinstance(tool, dict):
            raise BadRequest(f"{at} must be an object", param=at)
        if tool.get("type", "function") == "function":
            _check_function(tool.get("function"), f"{at}.function", needs_arguments=False)


def parse_chat(raw: bytes) -> ChatRequest:
    data = load_json(raw)
    model = _model(data)
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object", param=f"messages[{i}]")
        check_role(message.get("role"), ROLES, f"messages[{i}].role")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise BadRequest(f"messages[{i}].content must be a string or an array", param=f"messages[{i}].content")
        check_parts(content, f"messages[{i}].content")
        _check_tool_calls(message.get("tool_calls"), f"messages[{i}].tool_calls")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", param="stream")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object", param="stream_options")
    _check_tools(data.get("tools"))
    max_tokens = _bounded_int(data, "max_tokens", 1, MAX_OUTPUT_CAP)
    max_completion = _bounded_int(data, "max_completion_tokens", 1, MAX_OUTPUT_CAP)
    _bounded_int(data, "n", 1, MAX_N)
    return ChatRequest(
        body=data,
        model=model,
        stream=stream,
        include_usage=bool(stream and options and options.get("include_usage")),
        max_output=max_completion if max_completion is not None else max_tokens,
        end_user=_end_user(data),
        want_cost=_want_cost(data),
    )


def _want_cost(data: dict[str, Any]) -> bool:
    """OpenRouter's usage accounting switch, taken off the body (it is the gateway's, not the upstream's)."""
    if "usage" not in data:
        return False
    usage = data.pop("usage")
    if usage is None:
        return False
    if not isinstance(usage, dict) or not isinstance(usage.get("include", False), bool):
        raise BadRequest("'usage' must be an object such as {\"include\": true}", param="usage")
    return bool(usage.get("include"))


def parse_embeddings(raw: bytes) -> EmbeddingRequest:
    data = load_json(raw)
    model = _model(data)
    value = data.get("input")
    if isinstance(value, str):
        inputs = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        inputs = list(value)
    elif isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        inputs = [" ".join(map(str, value))]
    else:
        raise BadRequest("'input' must be a string or a non-empty array of strings", param="input")
    if len(inputs) > 2048:
        raise BadRequest("'input' may hold at most 2048 entries", param="input")
    _bounded_int(data, "dimensions", 1, 65536)
    fmt = data.get("encoding_format")
    if fmt not in (None, "float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    return EmbeddingRequest(body=data, model=model, inputs=inputs, end_user=_end_user(data))

"""OpenAI Responses API: `input` items in, response objects and `response.*` events out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenops.errors import BadRequest
from tokenops.gateway.apis import checks
from tokenops.gateway.parse import ChatRequest, check_parts, check_role, load_json
from tokenops.translate.responses_chat import to_chat, to_response
from tokenops.translate.responses_stream import ResponsesStreamEncoder
from tokenops.usage import Usage

_ROLES = frozenset({"system", "developer", "user", "assistant"})


@dataclass(slots=True)
class ResponsesRequest(ChatRequest):
    source: dict[str, Any] = field(default_factory=dict)  # the request as sent, echoed in the response


def _check_input(data: dict[str, Any]) -> None:
    value = data.get("input")
    if isinstance(value, str) and value:
        return
    if not isinstance(value, list) or not value:
        raise BadRequest("'input' must be a non-empty string or array of items", param="input")
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object", param=where)
        kind = item.get("type", "message")
        if not isinstance(kind, str):
            raise BadRequest(f"{where}.type must be a string", param=f"{where}.type")
        if kind == "message":
            check_role(item.get("role"), _ROLES, f"{where}.role")
            if not isinstance(item.get("content"), (str, list)):
                raise BadRequest(f"{where}.content must be a string or an array", param=f"{where}.content")
            check_parts(item.get("content"), f"{where}.content")
        elif item.get("type") in ("function_call", "function_call_output") and not isinstance(item.get("call_id"), str):
            raise BadRequest(f"{where}.call_id must be a string", param=f"{where}.call_id")


def parse_responses(raw: bytes) -> ResponsesRequest:
    data = load_json(raw)
    model = checks.model(data)
    _check_input(data)
    checks.optional_str(data, "instructions")
    checks.optional_list(data, "tools")
    if data.get("previous_response_id"):
        raise BadRequest(
            "'previous_response_id' is not supported: responses are not stored, send the whole conversation",
            param="previous_response_id",
            code="unsupported_parameter",
        )
    stream = checks.flag(data, "stream")
    max_output = checks.optional_int(data, "max_output_tokens")
    return ResponsesRequest(
        body=to_chat(data),
        model=model,
        stream=stream,
        include_usage=False,
        max_output=max_output,
        end_user=checks.optional_str(data, "user"),
        source=data,
    )


class ResponsesAPI:
    name = "responses"
    flavor = "openai"

    def parse(self, raw: bytes) -> ChatRequest:
        return parse_responses(raw)

    def render(self, completion: dict[str, Any], usage: Usage, chat: ChatRequest) -> bytes:
        source = chat.source if isinstance(chat, ResponsesRequest) else {}
        return orjson.dumps(to_response(completion, usage, source, chat.model))

    def encoder(self, chat: ChatRequest, upstream_model: str) -> ResponsesStreamEncoder:
        return ResponsesStreamEncoder(chat.source if isinstance(chat, ResponsesRequest) else {}, chat.model)


RESPONSES = ResponsesAPI()

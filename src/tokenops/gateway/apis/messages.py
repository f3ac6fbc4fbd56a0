"""Anthropic Messages API: content blocks in, messages and Anthropic's SSE events out."""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.errors import BadRequest
from tokenops.gateway.apis import checks
from tokenops.gateway.parse import ChatRequest, load_json
from tokenops.translate.messages_chat import to_chat, to_message
from tokenops.translate.messages_stream import MessagesStreamEncoder
from tokenops.usage import Usage


def _check_messages(data: dict[str, Any]) -> None:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: must be a non-empty array", param="messages")
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise BadRequest(f"{where}: must be an object", param=where)
        if message.get("role") not in ("user", "assistant"):
            raise BadRequest(f"{where}.role: must be 'user' or 'assistant'", param=f"{where}.role")
        content = message.get("content")
        if isinstance(content, list):
            if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in content):
                raise BadRequest(f"{where}.content: each block must be an object with a 'type'", param=where)
        elif not isinstance(content, str):
            raise BadRequest(f"{where}.content: must be a string or an array of blocks", param=where)
    system = data.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise BadRequest("system: must be a string or an array of text blocks", param="system")


def parse_messages(raw: bytes, count_only: bool = False) -> ChatRequest:
    """A Messages request (or, with `count_only`, a count_tokens request, which has no `max_tokens`)."""
    data = load_json(raw)
    model = checks.model(data)
    _check_messages(data)
    checks.optional_list(data, "tools")
    max_tokens = checks.optional_int(data, "max_tokens")
    if max_tokens is None and not count_only:
        raise BadRequest("max_tokens: field required", param="max_tokens")
    stop = data.get("stop_sequences")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise BadRequest("stop_sequences: must be an array of strings", param="stop_sequences")
    body = to_chat(data)
    if count_only:
        body.pop("max_tokens", None)
    return ChatRequest(
        body=body,
        model=model,
        stream=checks.flag(data, "stream"),
        include_usage=False,
        max_output=max_tokens,
        end_user=body.get("user"),
    )


class MessagesAPI:
    name = "messages"
    flavor = "anthropic"

    def parse(self, raw: bytes) -> ChatRequest:
        return parse_messages(raw)

    def render(self, completion: dict[str, Any], usage: Usage, chat: ChatRequest) -> bytes:
        return orjson.dumps(to_message(completion, usage, chat.model))

    def encoder(self, chat: ChatRequest, upstream_model: str) -> MessagesStreamEncoder:
        return MessagesStreamEncoder(chat.model)


MESSAGES = MessagesAPI()

"""OpenAI Chat Completions: the canonical form itself, so chunks pass through untouched."""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.errors import TokenopsError
from tokenops.gateway.parse import ChatRequest, parse_chat
from tokenops.gateway.render import openai_error
from tokenops.usage import Usage


class ChatCompletionsEncoder:
    __slots__ = ("_chat", "_created", "_id", "_new", "_old", "_rename")

    def __init__(self, chat: ChatRequest, upstream_model: str) -> None:
        self._chat = chat
        self._rename = upstream_model != chat.model
        self._old = b'"model":"' + upstream_model.encode() + b'"'
        self._new = b'"model":' + orjson.dumps(chat.model)
        self._id = b""
        self._created = b"0"

    def chunk(self, payload: bytes) -> bytes:
        if not self._id:
            self._id, self._created = _head_fields(payload)
        if self._rename:
            payload = payload.replace(self._old, self._new, 1)
        return b"data: " + payload + b"\n\n"

    def finish(self, usage: Usage) -> bytes:
        if not self._chat.include_usage:
            return b"data: [DONE]\n\n"
        return (
            b'data: {"id":"' + self._id + b'","object":"chat.completion.chunk","created":' + self._created
            + b',"model":' + orjson.dumps(self._chat.model) + b',"choices":[],"usage":'
            + orjson.dumps(usage.to_openai()) + b"}\n\ndata: [DONE]\n\n"
        )  # fmt: skip

    def error(self, err: TokenopsError) -> bytes:
        return b"data: " + openai_error(err) + b"\n\n"


def _head_fields(payload: bytes) -> tuple[bytes, bytes]:
    chunk_id, created = b"chatcmpl", b"0"
    start = payload.find(b'"id":"')
    if start >= 0:
        chunk_id = payload[start + 6 : payload.find(b'"', start + 6)]
    start = payload.find(b'"created":')
    if start >= 0:
        end = start + 10
        while end < len(payload) and payload[end : end + 1].isdigit():
            end += 1
        created = payload[start + 10 : end] or b"0"
    return chunk_id, created


class ChatCompletionsAPI:
    name = "chat.completions"
    flavor = "openai"

    def parse(self, raw: bytes) -> ChatRequest:
        return parse_chat(raw)

    def render(self, completion: dict[str, Any], usage: Usage, chat: ChatRequest) -> bytes:
        completion["model"] = chat.model
        if not isinstance(completion.get("usage"), dict):
            completion["usage"] = usage.to_openai()
        else:  # the upstream's own fields stay (DeepSeek's cache counts); the standard details say the same
            upstream, ours = completion["usage"], usage.to_openai()
            for key in ("prompt_tokens_details", "completion_tokens_details"):
                theirs = upstream.get(key)
                upstream[key] = {**(theirs if isinstance(theirs, dict) else {}), **ours[key]}
            if usage.cost is not None:
                upstream["cost"] = usage.cost
        return orjson.dumps(completion)

    def encoder(self, chat: ChatRequest, upstream_model: str) -> ChatCompletionsEncoder:
        return ChatCompletionsEncoder(chat, upstream_model)


CHAT_COMPLETIONS = ChatCompletionsAPI()

"""Any Anthropic-compatible upstream (Messages API) over pooled HTTP.

Our canonical chat body is translated to a Messages request, and the message or
its SSE events back to a canonical completion or chunks with `Usage` (cache reads
and writes included). Errors keep their meaning: "prompt is too long" is a
context-length error, 529 "overloaded" is an overloaded upstream.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import orjson

from tokenops.catalog import Deployment, Model
from tokenops.errors import (
    BadRequest,
    ContextLengthExceeded,
    ServiceUnavailable,
    TokenopsError,
    UpstreamError,
)
from tokenops.providers import http
from tokenops.providers.base import ChatResult, EmbedResult, Usage, map_upstream_error
from tokenops.providers.client import Response, Upstream
from tokenops.providers.tokenize import UpstreamTokenize
from tokenops.translate.anthropic_stream import AnthropicStreamDecoder
from tokenops.translate.chat_anthropic import to_anthropic, to_completion

API_VERSION = "2023-06-01"
_CONTEXT_MARKS = ("prompt is too long", "context window", "context length", "too many tokens")


def map_anthropic_error(status: int, body: bytes) -> TokenopsError:
    """An Anthropic upstream's error as ours; the OpenAI mapping covers the rest."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    message = str(err.get("message") or "") if isinstance(err, dict) else ""
    if any(mark in message.lower() for mark in _CONTEXT_MARKS):
        return ContextLengthExceeded(message, param="messages")
    if status == 529 or (isinstance(err, dict) and err.get("type") == "overloaded_error"):
        return ServiceUnavailable(
            f"upstream is overloaded: {message}", code="upstream_overloaded", headers={"retry-after": "1"}
        )
    return map_upstream_error(status, body)


class _AnthropicStream:
    def __init__(self, response: Response, model: str) -> None:
        self._response = response
        self._decoder = AnthropicStreamDecoder(model)
        self.usage: Usage | None = None
        self.chunks: list[bytes] = []

    @property
    def buffered(self) -> bool:
        return False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        decoder = self._decoder
        async for line in self._response.lines():
            if not line.startswith(b"data:"):
                continue
            try:
                data = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            for payload in decoder.feed(str(data.get("type", "")), data):
                self.chunks.append(payload)
                yield payload
            self.usage = decoder.usage
            if decoder.done:
                return
        raise UpstreamError("upstream stream ended without message_stop: connection closed mid-stream")

    async def aclose(self) -> None:
        self._response.close()


class AnthropicProvider:
    counts: UpstreamTokenize | None = None  # Anthropic reports usage on every response and stream

    def __init__(self, upstream: Upstream, deployment: Deployment, model: Model) -> None:
        self._model = deployment.upstream_model
        self._max_tokens = model.max_output_tokens
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if deployment.api_key_env:
            secret = os.environ.get(deployment.api_key_env)
            if secret:
                headers["x-api-key"] = secret
        self._messages = upstream.endpoint((deployment.base_url or "").rstrip("/") + "/messages", headers)
        self._timeout = deployment.timeout_s

    async def _post(self, body: dict[str, Any]) -> Response:
        payload = orjson.dumps(to_anthropic(body, self._max_tokens))
        return await http.post(self._messages, payload, self._timeout, map_anthropic_error)

    async def chat(self, body: dict[str, Any]) -> ChatResult:
        data = await http.read_json(await self._post(dict(body, stream=False)))
        completion, usage = to_completion(data, self._model)
        return ChatResult(completion, usage)

    async def chat_stream(self, body: dict[str, Any]) -> _AnthropicStream:
        return _AnthropicStream(await self._post(dict(body, stream=True)), self._model)

    async def embed(self, body: dict[str, Any]) -> EmbedResult:
        raise BadRequest("an Anthropic-compatible upstream offers no embeddings", code="unsupported_operation")

    async def close(self) -> None:
        return None

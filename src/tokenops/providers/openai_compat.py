"""Any OpenAI-compatible upstream (vLLM, SGLang, llama.cpp, Ollama, hosted APIs) over pooled HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson

from tokenops.catalog import Deployment
from tokenops.errors import UpstreamError
from tokenops.providers import http
from tokenops.providers.base import (
    ChatResult,
    EmbedResult,
    Usage,
    map_upstream_error,
    usage_of_chunk,
)
from tokenops.providers.client import Endpoint, Response, Upstream
from tokenops.providers.tokenize import Detections, UpstreamTokenize


class _SSEStream:
    """The upstream's SSE events, read a network chunk at a time.

    `buffered` tells whether more events of the chunk already read are waiting, so the
    relay can send them to the client in one write instead of one write an event.
    """

    def __init__(self, response: Response) -> None:
        self._response = response
        self.usage: Usage | None = None
        self.chunks: list[bytes] = []
        self._pending: list[bytes] = []

    @property
    def buffered(self) -> bool:
        return bool(self._pending)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self._response
        rest = b""
        pending = self._pending
        while True:
            data = await response.readany()
            if not data:
                raise UpstreamError("upstream stream ended without [DONE]: connection closed mid-stream")
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            pending.extend(line[5:].strip() for line in lines if line.startswith(b"data:"))
            while pending:
                payload = pending.pop(0)
                if payload == b"[DONE]":
                    pending.clear()
                    return
                if payload.startswith(b'{"error"'):
                    err = orjson.loads(payload).get("error") or {}
                    raise UpstreamError(f"upstream error mid-stream: {err.get('message', 'unknown')}")
                usage, usage_only = usage_of_chunk(payload)
                if usage is not None:
                    self.usage = usage
                    if usage_only:
                        continue
                self.chunks.append(payload)
                yield payload

    async def aclose(self) -> None:
        self._response.close()


_REASONING_KEYS = ("reasoning_content", "reasoning_signature")


def _outbound(body: dict[str, Any]) -> dict[str, Any]:
    """Earlier turns' reasoning stays out of what is sent: DeepSeek refuses a request that carries it back, and
    a signature only means something to Anthropic."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(
        isinstance(m, dict) and any(k in m for k in _REASONING_KEYS) for m in messages
    ):
        return body
    clean = [{k: v for k, v in m.items() if k not in _REASONING_KEYS} if isinstance(m, dict) else m for m in messages]
    return {**body, "messages": clean}


class OpenAICompatProvider:
    def __init__(self, upstream: Upstream, deployment: Deployment, detections: Detections) -> None:
        base = (deployment.base_url or "").rstrip("/")
        headers = {"content-type": "application/json"}
        if deployment.api_key_env:
            secret = os.environ.get(deployment.api_key_env)
            if secret:
                headers["authorization"] = f"Bearer {secret}"
        self._chat = upstream.endpoint(base + "/chat/completions", headers)
        self._embed = upstream.endpoint(base + "/embeddings", headers)
        self.counts: UpstreamTokenize | None = UpstreamTokenize(
            upstream, base, deployment.upstream_model, headers, deployment.tokenize, detections
        )
        self._timeout = deployment.timeout_s

    async def _post(self, endpoint: Endpoint, body: dict[str, Any]) -> Response:
        return await http.post(endpoint, orjson.dumps(body), self._timeout, map_upstream_error)

    async def _json(self, endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
        return await http.read_json(await self._post(endpoint, body))

    async def chat(self, body: dict[str, Any]) -> ChatResult:
        data = await self._json(self._chat, _outbound(body))
        return ChatResult(data, Usage.from_openai(data.get("usage")))

    async def chat_stream(self, body: dict[str, Any]) -> _SSEStream:
        return _SSEStream(await self._post(self._chat, _outbound(body)))

    async def embed(self, body: dict[str, Any]) -> EmbedResult:
        data = await self._json(self._embed, body)
        return EmbedResult(data, Usage.from_openai(data.get("usage")))

    async def close(self) -> None:
        await asyncio.sleep(0)

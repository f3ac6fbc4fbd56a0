"""The provider interface: our request in, the upstream's answer and its `Usage` out.

The canonical request is an OpenAI Chat Completions body; a provider translates it to
its upstream's format and back. Providers return usage, they never record it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tokenops.errors import (
    BadRequest,
    ContextLengthExceeded,
    ServiceUnavailable,
    TokenopsError,
    UpstreamError,
)
from tokenops.providers.tokenize import UpstreamTokenize
from tokenops.usage import Usage

__all__ = ["ChatResult", "ChatStream", "EmbedResult", "Provider", "Usage", "usage_of_chunk"]


@dataclass(slots=True)
class ChatResult:
    body: dict[str, Any]
    usage: Usage | None


@dataclass(slots=True)
class EmbedResult:
    body: dict[str, Any]
    usage: Usage | None


class ChatStream(Protocol):
    """An open upstream stream: yields OpenAI chunk payloads (usage-only chunks removed).

    `usage` is set once the upstream has reported it; `chunks` holds every payload
    yielded so far, so what was generated can be counted if the upstream never says.
    """

    usage: Usage | None
    chunks: list[bytes]

    @property
    def buffered(self) -> bool:
        """Whether the next chunk is already here (so a write can wait for it); False if unknown."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    counts: UpstreamTokenize | None  # the upstream's own tokenize endpoint, where it may have one

    async def chat(self, body: dict[str, Any]) -> ChatResult: ...

    async def chat_stream(self, body: dict[str, Any]) -> ChatStream:
        """Open the stream; errors the upstream reports before its first chunk raise here."""

    async def embed(self, body: dict[str, Any]) -> EmbedResult: ...

    async def close(self) -> None: ...


def usage_of_chunk(payload: bytes) -> tuple[Usage | None, bool]:
    """(usage, usage_only) of a chunk; cheap for the many chunks that carry none."""
    if b'"usage"' not in payload or b'"usage":null' in payload:
        return None, False
    data = orjson.loads(payload)
    found = Usage.from_openai(data.get("usage"))
    return found, found is not None and not data.get("choices")


def map_upstream_error(status: int, body: bytes) -> TokenopsError:
    """An upstream's error as ours, keeping its meaning (context length stays context length)."""
    message = f"upstream returned HTTP {status}"
    code = None
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            message = str(err.get("message") or message)
            code = err.get("code") or err.get("type")
        elif isinstance(err, str):
            message = err
    lowered = message.lower()
    if code == "context_length_exceeded" or "context length" in lowered or "context window" in lowered:
        return ContextLengthExceeded(message, param="messages")
    if status in (429, 503):
        return ServiceUnavailable(
            f"upstream is overloaded: {message}", code="upstream_overloaded", headers={"retry-after": "1"}
        )
    if status in (400, 413, 422):
        return BadRequest(f"upstream rejected the request: {message}", code=str(code or "upstream_bad_request"))
    return UpstreamError(f"upstream error: {message}", code="upstream_error")

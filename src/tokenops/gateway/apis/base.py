"""The interface every client API implements for the shared request pipeline."""

from __future__ import annotations

from typing import Any, Protocol

from tokenops.errors import TokenopsError
from tokenops.gateway.parse import ChatRequest
from tokenops.usage import Usage


class StreamEncoder(Protocol):
    """Turns the canonical chunk stream into one client API's SSE bytes."""

    def chunk(self, payload: bytes) -> bytes:
        """SSE bytes for one canonical chunk payload (may be empty)."""

    def finish(self, usage: Usage) -> bytes:
        """The closing events of a stream that ended normally or was cut: usage, stop, done."""

    def error(self, err: TokenopsError) -> bytes:
        """An error event for a stream that broke after it started."""


class ClientAPI(Protocol):
    name: str  # the `api` field of usage records
    flavor: str  # error shape: "openai" or "anthropic"

    def parse(self, raw: bytes) -> ChatRequest: ...

    def render(self, completion: dict[str, Any], usage: Usage, chat: ChatRequest) -> bytes:
        """The client's answer from the canonical completion (usage already metered)."""

    def encoder(self, chat: ChatRequest, upstream_model: str) -> StreamEncoder: ...

"""The upstream's own count, through its tokenize endpoint, for when it sends no usage.

Servers differ in what they offer:
- vLLM and SGLang: `POST /tokenize` takes chat messages (the chat template applied on the server) or text;
- llama.cpp's server: `POST /apply-template` renders the messages, `POST /tokenize` counts the text;
- llama-cpp-python: `POST /extras/tokenize/count` counts text (it has no template endpoint);
- TGI: `POST /chat_tokenize` takes chat messages, `POST /tokenize` text.
Which one a deployment speaks is found by probing once (or named in the catalog); a server that
speaks none is probed again after a while, not on every request. A count that fails is None, never
an error: the caller falls back to counting itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenops.catalog.model import TOKENIZE_STYLES
from tokenops.errors import UpstreamError, UpstreamTimeout
from tokenops.providers.client import Endpoint, Upstream

_PROBE_S = 2.0
_COUNT_S = 5.0
_RETRY_NONE_S = 300.0  # a server found to speak none of them is asked again after this long


@dataclass(slots=True)
class Found:
    """What probing found at one server: its style (None: none), and the tokens it adds to any text (a BOS)."""

    style: str | None
    overhead: int = 0
    at: float = field(default_factory=time.monotonic)


Detections = dict[str, Found]  # by server root URL; kept across catalog reloads by the app state


def server_root(base_url: str) -> str:
    """Tokenize endpoints sit at the server's root, beside `/v1`."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class UpstreamTokenize:
    """One deployment's access to its server's tokenizer."""

    def __init__(
        self, upstream: Upstream, base_url: str, model: str, headers: dict[str, str], choice: str,
        detections: Detections,
    ) -> None:  # fmt: skip
        self._upstream = upstream
        self._endpoints: dict[str, Endpoint] = {}
        self._root = server_root(base_url)
        self._model = model
        self._headers = headers
        self._choice = choice
        self._detections = detections
        self.omits_stream_usage = False  # learnt from its streams: then the prompt is counted as the stream starts

    async def _post(self, path: str, body: dict[str, Any], timeout_s: float) -> Any:
        """The JSON answer, or None on any failure."""
        endpoint = self._endpoints.get(path)
        if endpoint is None:
            endpoint = self._endpoints[path] = self._upstream.endpoint(self._root + path, self._headers)
        try:
            async with asyncio.timeout(timeout_s):
                response = await endpoint.post(orjson.dumps(body), timeout_s)
                try:
                    raw = await response.read()
                finally:
                    response.close()
        except (UpstreamError, UpstreamTimeout, TimeoutError):
            return None
        if response.status != 200:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None

    async def _text_count(self, style: str, text: str, timeout_s: float) -> int | None:
        if style == "vllm":
            data = await self._post("/tokenize", {"model": self._model, "prompt": text, "add_special_tokens": False},
                                    timeout_s)  # fmt: skip
            return _int(data, "count")
        if style == "llama.cpp":
            data = await self._post("/tokenize", {"content": text, "add_special": False, "parse_special": False},
                                    timeout_s)  # fmt: skip
            tokens = data.get("tokens") if isinstance(data, dict) and "count" not in data else None
            return len(tokens) if isinstance(tokens, list) else None
        if style == "llama-cpp-python":
            return _int(await self._post("/extras/tokenize/count", {"model": self._model, "input": text}, timeout_s),
                        "count")  # fmt: skip
        data = await self._post("/tokenize", {"inputs": text, "add_special_tokens": False}, timeout_s)
        return len(data) if isinstance(data, list) else None

    async def _found(self) -> Found:
        if self._choice != "auto":
            return Found(None if self._choice == "none" else self._choice)
        found = self._detections.get(self._root)
        if found is not None and (found.style is not None or time.monotonic() - found.at < _RETRY_NONE_S):
            return found
        found = Found(None)
        for style in TOKENIZE_STYLES:  # vLLM and llama.cpp both answer on /tokenize, told apart by the body each takes
            if await self._text_count(style, "hello", _PROBE_S):
                found = Found(style, await self._text_count(style, "", _PROBE_S) or 0)
                break
        self._detections[self._root] = found
        return found

    async def style(self) -> str | None:
        return (await self._found()).style

    async def text(self, text: str) -> int | None:
        """The tokens of generated text, as the server counts them (nothing added)."""
        found = await self._found()
        if found.style is None:
            return None
        if not text:
            return 0
        n = await self._text_count(found.style, text, _COUNT_S)
        return None if n is None else max(n - found.overhead, 0)

    async def prompt(self, body: dict[str, Any]) -> int | None:
        """A chat request's prompt tokens with the server's own chat template; None where it has no such endpoint."""
        found = await self._found()
        chat: dict[str, Any] = {"model": self._model, "messages": body.get("messages") or []}
        if body.get("tools"):
            chat["tools"] = body["tools"]
        if found.style == "vllm":
            return _int(await self._post("/tokenize", {**chat, "add_generation_prompt": True}, _COUNT_S), "count")
        if found.style == "llama.cpp":
            rendered = await self._post("/apply-template", chat, _COUNT_S)
            prompt = rendered.get("prompt") if isinstance(rendered, dict) else None
            if not isinstance(prompt, str):
                return None
            data = await self._post("/tokenize", {"content": prompt, "add_special": True, "parse_special": True},
                                    _COUNT_S)  # fmt: skip
            tokens = data.get("tokens") if isinstance(data, dict) else None
            return len(tokens) if isinstance(tokens, list) else None
        if found.style == "tgi":
            data = await self._post("/chat_tokenize", chat, _COUNT_S)
            tokens = data.get("tokenize_response") if isinstance(data, dict) else None
            return len(tokens) if isinstance(tokens, list) else None
        return None


def _int(data: Any, name: str) -> int | None:
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None

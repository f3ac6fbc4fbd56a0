"""Meter: the usage of a request — the upstream's own figures, else counted, and which it was."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson

from tokenops.tokenize import Counter, content_text, count_messages
from tokenops.usage import Usage


def _source(counter: Counter) -> str:
    return "tokenizer" if counter.exact else "estimate"


def prompt_usage(counter: Counter, body: dict[str, Any]) -> Usage:
    """Input tokens only: for a request that was cut short before any output was seen."""
    return Usage(count_messages(counter, body.get("messages") or (), body.get("tools")), 0, source=_source(counter))


def _output_tokens(counter: Counter, texts: Iterable[str], calls: Iterable[tuple[str, str]]) -> int:
    total = counter.count("".join(texts))
    return total + sum(counter.count(name + args) for name, args in calls)


def completion_usage(upstream: Usage | None, counter: Counter, body: dict[str, Any], result: dict[str, Any]) -> Usage:
    if upstream is not None:
        return upstream
    usage = prompt_usage(counter, body)
    texts: list[str] = []
    calls: list[tuple[str, str]] = []
    for choice in result.get("choices") or ():
        message = choice.get("message") or {} if isinstance(choice, dict) else {}
        texts.append(content_text(message.get("content")))
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            calls.append((str(fn.get("name", "")), str(fn.get("arguments", ""))))
    usage.output_tokens = _output_tokens(counter, texts, calls)
    return usage


def _deltas(payload: bytes, texts: list[str], calls: dict[tuple[int, int], list[str]]) -> dict[str, Any] | None:
    """Collect one chunk's generated text and tool-call fragments; the chunk's `usage` object, if it has one."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    for choice in data.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if isinstance(content, str):
            texts.append(content)
        for call in delta.get("tool_calls") or ():
            slot = calls.setdefault((choice.get("index", 0), call.get("index", 0)), ["", ""])
            fn = call.get("function") or {}
            slot[0] += fn.get("name") or ""
            slot[1] += fn.get("arguments") or ""
    usage = data.get("usage")
    return usage if isinstance(usage, dict) else None


def stream_usage(upstream: Usage | None, counter: Counter, body: dict[str, Any], chunks: list[bytes]) -> Usage:
    """Usage of a stream; when the upstream never said, count what it generated (also when cut short)."""
    if upstream is not None:
        return upstream
    usage = prompt_usage(counter, body)
    texts: list[str] = []
    calls: dict[tuple[int, int], list[str]] = {}
    for payload in chunks:
        _deltas(payload, texts, calls)
    usage.output_tokens = _output_tokens(counter, texts, ((n, a) for n, a in calls.values()))
    return usage


class StreamProgress:
    """A stream's usage so far, for interim reports: the prompt counted once, the output counted on the chunks
    that arrived since the last report (so a long stream is never counted over again), or the upstream's own
    running figure when its chunks carry one (vLLM's continuous usage stats)."""

    def __init__(self, counter: Counter, body: dict[str, Any], chunks: list[bytes]) -> None:
        self._counter = counter
        self._body = body
        self._chunks = chunks
        self._seen = 0
        self._output = 0
        self._prompt: Usage | None = None
        self._upstream: dict[str, Any] | None = None

    async def measure(self) -> Usage:
        """The usage so far; the prompt is counted off the event loop, once (an agent's prompt may be long)."""
        if self._prompt is None:
            self._prompt = await asyncio.to_thread(prompt_usage, self._counter, self._body)
        return self._so_far(self._prompt)

    def _so_far(self, prompt: Usage) -> Usage:
        texts: list[str] = []
        calls: dict[tuple[int, int], list[str]] = {}
        new = self._chunks[self._seen :]
        self._seen += len(new)
        for payload in new:
            self._upstream = _deltas(payload, texts, calls) or self._upstream
        self._output += _output_tokens(self._counter, texts, ((n, a) for n, a in calls.values()))
        up = self._upstream
        if up is not None and isinstance(up.get("completion_tokens"), int):
            counted = up.get("prompt_tokens")
            return Usage(counted if isinstance(counted, int) else prompt.input_tokens, up["completion_tokens"],
                         source="upstream")  # fmt: skip
        return Usage(prompt.input_tokens, self._output, source=prompt.source)

"""Meter: the usage of a request — the upstream's own figures, else its tokenize endpoint's, else counted here,
and which it was (the record's `usage_source`: upstream, upstream_tokenize, tokenizer, estimate)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenops.providers.tokenize import UpstreamTokenize
from tokenops.tokenize import Counter, content_text, count_messages
from tokenops.translate.reasoning import reasoning_text
from tokenops.usage import Usage


def _source(counter: Counter) -> str:
    return "tokenizer" if counter.exact else "estimate"


def prompt_usage(counter: Counter, body: dict[str, Any]) -> Usage:
    """Input tokens only: for a request that was cut short before any output was seen."""
    return Usage(count_messages(counter, body.get("messages") or (), body.get("tools")), 0, source=_source(counter))


def _output_tokens(counter: Counter, texts: Iterable[str], calls: Iterable[tuple[str, str]]) -> int:
    total = counter.count("".join(texts))
    return total + sum(counter.count(name + args) for name, args in calls)


@dataclass(slots=True)
class Generated:
    """What the upstream generated: answer text, reasoning text, tool calls (name, arguments)."""

    texts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def output(self, counter: Counter) -> tuple[int, int]:
        """(output tokens, of them reasoning) as this counter counts them."""
        reasoning = counter.count("".join(self.reasoning))
        return _output_tokens(counter, self.texts, self.calls) + reasoning, reasoning

    def text(self) -> str:
        return "".join(self.reasoning) + "".join(self.texts) + "".join(n + a for n, a in self.calls)


def generated_of(result: dict[str, Any]) -> Generated:
    out = Generated()
    for choice in result.get("choices") or ():
        message = choice.get("message") or {} if isinstance(choice, dict) else {}
        out.texts.append(content_text(message.get("content")))
        reasoning = reasoning_text(message)
        if reasoning:
            out.reasoning.append(reasoning)
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            out.calls.append((str(fn.get("name", "")), str(fn.get("arguments", ""))))
    return out


def _deltas(payload: bytes, out: Generated, calls: dict[tuple[int, int], list[str]]) -> dict[str, Any] | None:
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
            out.texts.append(content)
        reasoning = reasoning_text(delta)
        if reasoning:
            out.reasoning.append(reasoning)
        for call in delta.get("tool_calls") or ():
            slot = calls.setdefault((choice.get("index", 0), call.get("index", 0)), ["", ""])
            fn = call.get("function") or {}
            slot[0] += fn.get("name") or ""
            slot[1] += fn.get("arguments") or ""
    usage = data.get("usage")
    return usage if isinstance(usage, dict) else None


def generated_of_chunks(chunks: Iterable[bytes]) -> Generated:
    out = Generated()
    calls: dict[tuple[int, int], list[str]] = {}
    for payload in chunks:
        _deltas(payload, out, calls)
    out.calls = [(n, a) for n, a in calls.values()]
    return out


def counted(counter: Counter, body: dict[str, Any], out: Generated) -> Usage:
    """The usage as this gateway counts it."""
    usage = prompt_usage(counter, body)
    usage.output_tokens, usage.reasoning_tokens = out.output(counter)
    return usage


async def measured(
    upstream: Usage | None, counter: Counter, body: dict[str, Any], out: Generated,
    counts: UpstreamTokenize | None = None, prompt: asyncio.Task[int | None] | None = None,
) -> Usage:  # fmt: skip
    """The request's usage: the upstream's own report; else, for a model with no exact counter here, the
    upstream's tokenize endpoint (its chat template on the prompt, its tokenizer on the output); else counted.
    `prompt` is the server's prompt count already asked for (as the stream started); not needed, it is
    cancelled rather than waited for."""
    if upstream is not None or counter.exact or counts is None:
        if prompt is not None:
            prompt.cancel()
        return upstream if upstream is not None else counted(counter, body, out)
    server_prompt, server_output = await asyncio.gather(prompt or counts.prompt(body), counts.text(out.text()))
    if server_output is None:
        return counted(counter, body, out)
    reasoning = await counts.text("".join(out.reasoning)) if out.reasoning else 0
    if server_prompt is None:  # a server with no template endpoint: the prompt stays an estimate
        local = prompt_usage(counter, body)
        return Usage(local.input_tokens, server_output, reasoning_tokens=reasoning or 0, source=local.source)
    return Usage(server_prompt, server_output, reasoning_tokens=reasoning or 0, source="upstream_tokenize")


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
        out = Generated()
        calls: dict[tuple[int, int], list[str]] = {}
        new = self._chunks[self._seen :]
        self._seen += len(new)
        for payload in new:
            self._upstream = _deltas(payload, out, calls) or self._upstream
        out.calls = [(n, a) for n, a in calls.values()]
        self._output += out.output(self._counter)[0]
        up = self._upstream
        if up is not None and isinstance(up.get("completion_tokens"), int):
            counted = up.get("prompt_tokens")
            return Usage(counted if isinstance(counted, int) else prompt.input_tokens, up["completion_tokens"],
                         source="upstream")  # fmt: skip
        return Usage(prompt.input_tokens, self._output, source=prompt.source)

"""Meter: the usage of a request — the upstream's own figures, else counted, and which it was."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from tokenops.providers import Usage
from tokenops.tokenize import Counter, content_text, count_messages


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


def stream_usage(upstream: Usage | None, counter: Counter, body: dict[str, Any], chunks: list[bytes]) -> Usage:
    """Usage of a stream; when the upstream never said, count what it generated (also when cut short)."""
    if upstream is not None:
        return upstream
    usage = prompt_usage(counter, body)
    texts: list[str] = []
    calls: dict[tuple[int, int], list[str]] = {}
    for payload in chunks:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
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
    usage.output_tokens = _output_tokens(counter, texts, ((n, a) for n, a in calls.values()))
    return usage

"""Token counting offline: an exact tokenizer per model family where one ships, else an estimate.

Counting is for when the upstream gives no usage (and for the simulated models); the
gateway bills from the upstream's own `usage` whenever it has one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from tokenops import bpe


class Counter(Protocol):
    name: str
    exact: bool

    def count(self, text: str) -> int: ...


class EstimateCounter:
    """About four bytes of UTF-8 a token: cheap, for families with no offline tokenizer."""

    exact = False

    def __init__(self, name: str = "estimate") -> None:
        self.name = name

    def count(self, text: str) -> int:
        n = len(text)
        if n == 0:
            return 0
        return (len(text.encode("utf-8", "surrogatepass")) + 3) // 4


class EncodingCounter:
    exact = True

    def __init__(self, name: str, encoding: Any) -> None:
        self.name = name
        self._encode = encoding.encode_ordinary

    def count(self, text: str) -> int:
        return len(self._encode(text)) if text else 0


@functools.cache
def counter_for(family: str) -> Counter:
    encoding = bpe.load(family)
    if encoding is None:
        return EstimateCounter()
    return EncodingCounter(family, encoding)


def content_text(content: Any) -> str:
    """The text of a message's content: a string or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


_IMAGE_TOKENS = 85


def count_messages(counter: Counter, messages: Iterable[Any], tools: Any = None) -> int:
    """Prompt tokens of a chat request, with the usual few tokens of framing per message."""
    total = 3
    for m in messages:
        if not isinstance(m, dict):
            continue
        total += 4 + counter.count(content_text(m.get("content")))
        content = m.get("content")
        if isinstance(content, list):
            total += _IMAGE_TOKENS * sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
        for call in m.get("tool_calls") or ():
            fn = call.get("function") or {} if isinstance(call, dict) else {}
            total += 3 + counter.count(str(fn.get("name", ""))) + counter.count(str(fn.get("arguments", "")))
        if m.get("name"):
            total += 1
    if tools:
        total += counter.count(orjson.dumps(tools).decode())
    return total

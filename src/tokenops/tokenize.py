"""Token counting offline: the model's own tokenizer file where the catalog names one, an exact encoding
per family where one ships, else an estimate.

Counting is for when the upstream gives no usage (and for admission and the simulated
models); the gateway bills from the upstream's own `usage` whenever it has one.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from tokenops import bpe
from tokenops.counting.files import load_file_counter
from tokenops.errors import ConfigError

log = logging.getLogger("tokenops.tokenize")


class Counter(Protocol):
    name: str
    exact: bool

    def count(self, text: str) -> int: ...

    def count_chat(self, messages: list[Any], tools: Any = None) -> int | None:
        """A chat prompt's tokens through the model's chat template; None where the counter has none."""


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

    def count_chat(self, messages: list[Any], tools: Any = None) -> int | None:
        return None


class EncodingCounter:
    exact = True

    def __init__(self, name: str, encoding: Any) -> None:
        self.name = name
        self._encode = encoding.encode_ordinary

    def count(self, text: str) -> int:
        return len(self._encode(text)) if text else 0

    def count_chat(self, messages: list[Any], tools: Any = None) -> int | None:
        return None


class CachedCounter:
    """An exact counter that remembers the counts of the texts it counted, up to `max_chars` of text (then starts
    afresh): a client resends its system prompt and the conversation so far with every request, so most of a
    prompt's messages were counted before. Texts shorter than a few words (a stream's deltas) are counted anew,
    cheaply, rather than crowding the longer ones out.
    """

    MIN_CHARS = 16
    MAX_TEXT = 64 * 1024

    def __init__(self, inner: Counter, max_chars: int = 4 * 1024 * 1024) -> None:
        self.inner = inner
        self.name = inner.name
        self.exact = inner.exact
        self.max_chars = max_chars
        self._counts: dict[str, int] = {}
        self._chars = 0

    def count(self, text: str) -> int:
        n = self._counts.get(text)
        if n is not None:
            return n
        n = self.inner.count(text)
        size = len(text)
        if self.MIN_CHARS <= size <= self.MAX_TEXT:
            if self._chars + size > self.max_chars:
                self._counts.clear()
                self._chars = 0
            self._counts[text] = n
            self._chars += size
        return n

    def count_chat(self, messages: list[Any], tools: Any = None) -> int | None:
        return self.inner.count_chat(messages, tools)


def is_tokenizer_file(spec: str) -> bool:
    """Whether a model's `tokenizer` names a file (GGUF, tokenizer.json, or its directory) rather than a family."""
    return os.sep in spec or "/" in spec or spec.endswith((".gguf", ".json"))


@functools.cache
def load_counter(spec: str) -> Counter:
    """The counter a model's `tokenizer` names; a file that cannot be read is a ConfigError naming it."""
    if is_tokenizer_file(spec):
        return load_file_counter(spec)
    encoding = bpe.load(spec)
    if encoding is None:
        return EstimateCounter()
    return EncodingCounter(spec, encoding)


@functools.cache
def counter_for(spec: str) -> Counter:
    """The counter of a family or tokenizer file; a file this host cannot read counts by estimate (logged once:
    `check-config` refuses such a catalog, but a replica may lack a file another one has)."""
    try:
        return load_counter(spec)
    except ConfigError as exc:
        log.error("tokenizer %s not loaded, counting by estimate: %s", spec, exc)
        return EstimateCounter()


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
    """Prompt tokens of a chat request: through the model's chat template where its counter has one, else the
    text with the usual few tokens of framing per message."""
    messages = messages if isinstance(messages, list) else list(messages)
    templated = counter.count_chat(messages, tools)
    if templated is not None:
        return templated
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

"""Token counts per message, cached by text, framed exactly as `tokenize.count_messages` frames them.

A session grows by a few messages a request while the client resends the whole history,
so a cache keyed by text makes the exact count of the next request nearly free; the
diagnostic lines found in each text are remembered the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tokenops.compaction.scan import Span, scan
from tokenops.tokenize import Counter, content_text

Message = dict[str, Any]

_IMAGE_TOKENS = 85


class TokenCache:
    """Exact counts of texts, remembered up to a number of entries (then started afresh)."""

    def __init__(self, counter: Counter, max_entries: int = 50_000) -> None:
        self.counter = counter
        self.max_entries = max_entries
        self._counts: dict[str, int] = {}
        self._spans: dict[str, list[Span]] = {}

    def spans(self, text: str) -> list[Span]:
        """The diagnostic lines of a text (`scan.scan`), remembered like the counts."""
        found = self._spans.get(text)
        if found is None:
            found = scan(text)
            if len(self._spans) >= self.max_entries // 4:
                self._spans.clear()
            self._spans[text] = found
        return found

    def count(self, text: str) -> int:
        if not text:
            return 0
        cached = self._counts.get(text)
        if cached is not None:
            return cached
        n = self.counter.count(text)
        if len(self._counts) >= self.max_entries:
            self._counts.clear()
        self._counts[text] = n
        return n

    def message(self, m: Message) -> int:
        """A message's tokens with its framing, as `count_messages` counts them."""
        content = m.get("content")
        total = 4 + self.count(content_text(content))
        if isinstance(content, list):
            total += _IMAGE_TOKENS * sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
        for call in m.get("tool_calls") or ():
            fn = call.get("function") or {} if isinstance(call, dict) else {}
            total += 3 + self.count(str(fn.get("name", ""))) + self.count(str(fn.get("arguments", "")))
        if m.get("name"):
            total += 1
        return total

    def tools(self, tools: Any) -> int:
        return self.count(orjson.dumps(tools).decode()) if tools else 0

    def request(self, messages: Sequence[Message], tools: Any = None) -> int:
        return 3 + sum(self.message(m) for m in messages if isinstance(m, dict)) + self.tools(tools)


def byte_bound(messages: Sequence[Message], tools: Any = None) -> int:
    """An upper bound of the prompt tokens without tokenizing: a byte-level BPE token covers
    at least one byte of UTF-8, plus the framing of each message and call."""
    total = 3
    for m in messages:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        total += 5 + len(content_text(content).encode("utf-8", "surrogatepass"))
        if isinstance(content, list):
            total += _IMAGE_TOKENS * len(content)
        for call in m.get("tool_calls") or ():
            fn = call.get("function") or {} if isinstance(call, dict) else {}
            total += 3 + len(str(fn.get("name", "")).encode()) + len(str(fn.get("arguments", "")).encode())
    if tools:
        total += len(orjson.dumps(tools))
    return total

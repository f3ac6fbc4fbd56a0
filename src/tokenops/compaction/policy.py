"""When to compact and to what size: off, on at a threshold of the context window, or a fixed ratio.

A byte bound settles most requests without tokenizing: under the threshold even if every
byte were a token, or over it even at eight bytes a token. Only the rest are counted
exactly (per message, cached), so the common case costs well under a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tokenops.compaction.counting import Message, TokenCache, byte_bound
from tokenops.compaction.engine import DEFAULT_KEEP_RECENT, CompactionResult, compact
from tokenops.tokenize import Counter

Mode = Literal["off", "threshold", "ratio"]
Reason = Literal["off", "under_bound", "under", "over_bound", "over", "ratio"]

# Prose and logs run at 3 to 5 bytes a token; 8 leaves room for long whitespace runs.
_MAX_BYTES_PER_TOKEN = 8


@dataclass(frozen=True, slots=True)
class Decision:
    compact: bool
    reason: Reason
    bound: int  # upper bound of the prompt tokens (UTF-8 bytes plus framing)
    tokens: int | None  # exact prompt tokens, where they were counted
    limit: int  # prompt tokens above which the policy compacts
    target_tokens: int  # size to compact to


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    """`threshold` and `target` are fractions of the window left after the reply's `max_tokens`."""

    mode: Mode = "threshold"
    threshold: float = 0.85
    target: float = 0.6
    ratio: float = 4.0
    keep_recent: int = DEFAULT_KEEP_RECENT

    def __post_init__(self) -> None:
        if not 0 < self.target <= self.threshold <= 1:
            raise ValueError("compaction policy: need 0 < target <= threshold <= 1")
        if self.ratio < 1:
            raise ValueError("compaction policy: ratio must be at least 1")

    def decide(
        self,
        messages: Sequence[Message],
        tools: Any,
        *,
        cache: TokenCache,
        context_window: int,
        max_output_tokens: int = 0,
    ) -> Decision:
        room = max(context_window - max_output_tokens, 0)
        limit = int(room * self.threshold)
        target = int(room * self.target)
        bound = byte_bound(messages, tools)
        if self.mode == "off":
            return Decision(False, "off", bound, None, limit, target)
        if self.mode == "ratio":
            tokens = cache.request(messages, tools)
            return Decision(True, "ratio", bound, tokens, limit, math.ceil(tokens / self.ratio))
        if bound <= limit:
            return Decision(False, "under_bound", bound, None, limit, target)
        if bound > limit * _MAX_BYTES_PER_TOKEN:
            return Decision(True, "over_bound", bound, None, limit, target)
        tokens = cache.request(messages, tools)
        if tokens <= limit:
            return Decision(False, "under", bound, tokens, limit, target)
        return Decision(True, "over", bound, tokens, limit, target)


class Compactor:
    """What the request path calls: a policy plus a count cache per tokenizer, kept across requests."""

    def __init__(self, policy: CompactionPolicy, max_cached_texts: int = 50_000) -> None:
        self.policy = policy
        self._max = max_cached_texts
        self._caches: dict[str, TokenCache] = {}

    def cache(self, counter: Counter) -> TokenCache:
        cache = self._caches.get(counter.name)
        if cache is None or cache.counter is not counter:
            cache = self._caches[counter.name] = TokenCache(counter, self._max)
        return cache

    def run(
        self,
        messages: Sequence[Message],
        tools: Any,
        *,
        counter: Counter,
        context_window: int,
        max_output_tokens: int = 0,
        summary: str | None = None,
        policy: CompactionPolicy | None = None,
    ) -> tuple[Decision, CompactionResult | None]:
        """The decision, and the compacted conversation where the policy (this one's unless given) compacts."""
        policy = policy or self.policy
        cache = self.cache(counter)
        decision = policy.decide(
            messages, tools, cache=cache, context_window=context_window, max_output_tokens=max_output_tokens
        )
        if not decision.compact:
            return decision, None
        result = compact(
            messages,
            tools,
            counter=counter,
            target_tokens=decision.target_tokens,
            keep_recent=policy.keep_recent,
            cache=cache,
            summary=summary,
        )
        return decision, result

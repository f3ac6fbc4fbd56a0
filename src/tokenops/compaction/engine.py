"""Compaction of a long conversation to a token target, keeping what a diagnosis depends on.

The system prompts, the tool definitions and the most recent messages stay verbatim;
the older messages become one digest message of verbatim excerpts (see `digest`).
Tool calls and their results are kept or condensed together, so the request stays valid.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokenops.compaction import digest
from tokenops.compaction.counting import Message, TokenCache
from tokenops.compaction.scan import ERROR, FRAME, WARNING
from tokenops.tokenize import Counter, content_text

DEFAULT_KEEP_RECENT = 8
DIGEST_ROLE = "user"
_SYSTEM_ROLES = ("system", "developer")
_HEADER = (
    "[Earlier part of this conversation, condensed by the gateway: messages {first} to {last}. "
    "Lines are verbatim excerpts: errors, failing commands and exit codes, stack frames and "
    'warnings first, then context; "…" marks text left out.]'
)
_SUMMARY_HEADER = "[Summary of the condensed messages, written by a model:]"
_MAX_ROUNDS = 6


@dataclass(frozen=True, slots=True)
class DigestStats:
    messages_condensed: int
    error_lines: int
    error_lines_kept: int
    stack_frames: int
    stack_frames_kept: int
    warning_lines: int
    warning_lines_kept: int
    tool_calls: int
    tool_calls_kept: int


_NO_STATS = DigestStats(0, 0, 0, 0, 0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class CompactionResult:
    messages: list[Message]
    tokens_before: int
    tokens_after: int
    target_tokens: int
    compacted: bool  # False: the conversation already fitted and is returned as it was
    fits: bool  # False: even the system prompts, tools and last turn exceed the target
    kept_verbatim: tuple[int, ...]  # indices of the input messages passed on unchanged
    condensed: tuple[int, ...]  # indices of the input messages folded into the digest
    stats: DigestStats
    elapsed_ms: float

    @property
    def ratio(self) -> float:
        return self.tokens_before / self.tokens_after if self.tokens_after else 0.0


def compact(
    messages: Sequence[Message],
    tools: Any = None,
    *,
    counter: Counter,
    target_tokens: int,
    keep_recent: int = DEFAULT_KEEP_RECENT,
    recent_share: float = 0.25,
    cache: TokenCache | None = None,
    summary: str | None = None,
) -> CompactionResult:
    """Rewrites `messages` to at most `target_tokens` prompt tokens (as `count_messages` counts).

    `keep_recent` messages at the end stay verbatim as long as they take at most
    `recent_share` of the target; the last message and its tool-call group always stay.
    `summary` is an optional text from a summarising model, placed in the digest next to,
    never instead of, the verbatim excerpts (see `summary.Summarizer`).
    """
    began = time.perf_counter()
    cache = cache if cache is not None and cache.counter is counter else TokenCache(counter)
    msgs = [m for m in messages if isinstance(m, dict)]
    counts = [cache.message(m) for m in msgs]
    fixed = 3 + cache.tools(tools)
    before = fixed + sum(counts)
    if before <= target_tokens or not msgs:
        return CompactionResult(
            msgs, before, before, target_tokens, False, True, tuple(range(len(msgs))), (), _NO_STATS, _ms(began)
        )

    n = len(msgs)
    lead = 0
    while lead < n and msgs[lead].get("role") in _SYSTEM_ROLES:
        lead += 1
    fixed += sum(counts[:lead])
    recent_budget = int((target_tokens - fixed) * recent_share)
    start = _recent_start(msgs, counts, lead, keep_recent, recent_budget)
    old = range(lead, start)
    moved = [i for i in old if msgs[i].get("role") in _SYSTEM_ROLES]
    fixed += sum(counts[i] for i in moved)
    recent = [dict(m) for m in msgs[start:]]
    recent_tokens = sum(counts[start:])
    if recent_tokens > recent_budget:
        # Even the last turn is too large a share: condense its largest messages in place.
        recent_tokens = _shrink_recent(recent, recent_budget, cache)
    sources = _sources(msgs, counts, [i for i in old if msgs[i].get("role") not in _SYSTEM_ROLES], cache)

    head = [msgs[i] for i in range(lead)] + [msgs[i] for i in moved]
    condensed = tuple(s.index for s in sources)
    stats = _NO_STATS
    out = head + recent
    after = fixed + recent_tokens
    if sources:
        header = _HEADER.format(first=sources[0].index + 1, last=sources[-1].index + 1)
        if summary:
            header += "\n" + _SUMMARY_HEADER + "\n" + summary
        text, after, selection = _digest(sources, header, fixed + recent_tokens + 4, target_tokens, cache)
        out = [*head, {"role": DIGEST_ROLE, "content": text}, *recent]
        stats = _stats(len(sources), selection)
    if after > target_tokens:
        after = _shrink_recent(recent, target_tokens - (after - recent_tokens), cache) + after - recent_tokens
    verbatim = (i for i, m in zip(range(start, n), recent, strict=True) if m.get("content") is msgs[i].get("content"))
    kept = (*range(lead), *moved, *verbatim)
    return CompactionResult(
        out, before, after, target_tokens, True, after <= target_tokens, kept, condensed, stats, _ms(began)
    )


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000


def _digest(
    sources: list[digest.Source], header: str, base: int, target: int, cache: TokenCache
) -> tuple[str, int, digest.Selection]:
    """Selects on estimated costs, calibrates the estimate on one exact count, then trims to fit.

    `base` is every prompt token outside the digest's text."""
    budget = max(target - base - cache.count(header) - 1, 0)
    candidates = digest.plan(sources, cache.count)
    selection = digest.select(sources, candidates, int(budget * 0.99))
    text = "\n".join([header, *digest.render(sources, selection)])
    after = base + cache.counter.count(text)
    for _ in range(_MAX_ROUNDS):
        if after <= target or not selection.chosen:
            break
        digest.drop(selection, int((after - target) * 1.1) + 8)
        text = "\n".join([header, *digest.render(sources, selection)])
        after = base + cache.counter.count(text)
    return text, after, selection


def _recent_start(msgs: list[Message], counts: list[int], lead: int, keep: int, budget: float) -> int:
    """Where the verbatim tail begins: whole tool-call groups, at most `keep` messages within
    `budget` tokens, and never less than the last group."""
    n = len(msgs)
    start = n
    tokens = 0
    i = n
    while i > lead:
        j = i - 1
        while j > lead and msgs[j].get("role") == "tool":
            j -= 1
        group = sum(counts[j:i])
        if start < n and (n - j > max(keep, 1) or tokens + group > budget):
            break
        start, tokens, i = j, tokens + group, j
    return start


def _sources(msgs: list[Message], counts: list[int], indices: list[int], cache: TokenCache) -> list[digest.Source]:
    call_names: dict[str, str] = {}
    call_at: dict[str, tuple[int, int]] = {}
    sources: list[digest.Source] = []
    for i in indices:
        m = msgs[i]
        role = str(m.get("role", "user"))
        source = digest.Source(i, role, content_text(m.get("content")), counts[i])
        for call in m.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            source.calls.append(digest.render_call(call))
            source.call_failed.append(False)
            call_id = str(call.get("id", ""))
            call_names[call_id] = str((call.get("function") or {}).get("name", ""))
            call_at[call_id] = (len(sources), len(source.calls) - 1)
        digest.prepare(source, cache.spans(source.text))
        if role == "tool":
            call_id = str(m.get("tool_call_id", ""))
            source.label = call_names.get(call_id, "")
            if source.failed and call_id in call_at:
                s, k = call_at[call_id]
                sources[s].call_failed[k] = True
        sources.append(source)
    return sources


def _stats(condensed: int, selection: digest.Selection) -> DigestStats:
    found, kept = selection.found, selection.kept
    return DigestStats(
        condensed,
        *(found[ERROR], kept[ERROR], found[FRAME], kept[FRAME]),
        *(found[WARNING], kept[WARNING], found[-1], kept[-1]),
    )


def _shrink_recent(recent: list[Message], budget: int, cache: TokenCache) -> int:
    """Condenses the largest recent messages in place (structure kept) until the tail fits `budget`."""
    counts = [cache.message(m) for m in recent]
    total = sum(counts)
    order = sorted(range(len(recent)), key=lambda k: -counts[k])
    for k in order:
        if total <= budget:
            break
        m = recent[k]
        text = content_text(m.get("content"))
        if not text:
            continue
        source = digest.Source(k, str(m.get("role", "")), text, cache.count(text))
        digest.prepare(source, cache.spans(text))
        room = max(source.tokens - (total - budget) - 8, 0)
        selection = digest.select([source], digest.plan([source], cache.count), room, marker_cost=0)
        for _ in range(_MAX_ROUNDS):
            m["content"] = "\n".join(digest.render([source], selection, markers=False)) or digest.ELLIPSIS
            now = cache.message(m)
            if total - counts[k] + now <= budget or not selection.chosen:
                break
            digest.drop(selection, total - counts[k] + now - budget + 4)
        total += now - counts[k]
        counts[k] = now
    return total

"""The extractive digest: chooses, within a token budget, which lines of older messages to keep.

Diagnostic lines come first (errors and failing commands, then stack frames, then
warnings), then the openings of user and assistant messages, then the rest of the
text, newest messages first. Every kept line is a verbatim copy; text is cut only at
whitespace, so no identifier is ever shortened into a different one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenops.compaction.rank import (
    P_ASSISTANT,
    P_ERROR,
    P_FILL,
    P_FRAME,
    P_LIB_FRAME,
    P_MENTION,
    P_TOOL_HEAD,
    P_TOP_FRAME,
    P_USER,
    P_WARNING,
    priorities,
    template,
)
from tokenops.compaction.scan import ERROR, FRAME, MENTION, SOURCE, WARNING, Span, exit_code, scan

_HEAD_CHARS = {"user": 1500, "assistant": 600, "tool": 300}
_CALL_VALUE_CHARS = 300
ELLIPSIS = "…"


@dataclass(slots=True)
class Source:
    """One older message, as the digest sees it."""

    index: int  # position in the original conversation
    role: str
    text: str
    tokens: int
    calls: list[str] = field(default_factory=list)  # rendered tool calls of an assistant message
    call_failed: list[bool] = field(default_factory=list)
    label: str = ""  # the tool's name, for a tool result
    spans: list[Span] = field(default_factory=list)
    failed: bool = False  # a tool result reporting a non-zero exit
    rest_ratio: float = 0.0  # tokens per character outside the diagnostic lines

    @property
    def ratio(self) -> float:
        return self.tokens / len(self.text) if self.text else 0.0


@dataclass(slots=True)
class _Item:
    prio: int
    src: int  # position in the sources list
    start: int  # offset in the text; a call line k is -1 - k
    end: int
    cost: int
    key: str | None = None
    order: tuple[int, int, int, int] = (0, 0, 0, 0)  # within a priority, lowest first


@dataclass(slots=True)
class Selection:
    """What the digest keeps, and counts of what it saw."""

    chosen: list[_Item]
    used: int  # estimated tokens of the chosen items
    repeats: dict[str, int]
    found: dict[int, int]
    kept: dict[int, int]


def render_call(call: Any) -> str:
    """A tool call as one line: the function name and its arguments' values, each cut at whitespace."""
    fn = call.get("function") or {} if isinstance(call, dict) else {}
    name = str(fn.get("name", ""))
    raw = fn.get("arguments", "")
    try:
        args = orjson.loads(raw) if isinstance(raw, str) and raw else raw
    except orjson.JSONDecodeError:
        args = raw
    if isinstance(args, dict):
        parts = []
        for key, value in args.items():
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            parts.append(f"{key}: {cut(text.split(chr(10), 1)[0], _CALL_VALUE_CHARS)}")
        body = "; ".join(parts)
    else:
        body = cut(str(args).split("\n", 1)[0], _CALL_VALUE_CHARS)
    return f"→ {name} {body}".rstrip()


def cut(text: str, limit: int) -> str:
    """The text, or its longest prefix within `limit` characters that ends at whitespace, plus an ellipsis."""
    if len(text) <= limit:
        return text
    at = max(text.rfind(" ", 0, limit), text.rfind("\t", 0, limit))
    return (text[:at].rstrip() + " " + ELLIPSIS) if at > 0 else ELLIPSIS


def prepare(source: Source, spans: list[Span] | None = None) -> None:
    """Finds the diagnostic lines of a source (unless given) and whether it reports a failure."""
    source.spans = scan(source.text) if spans is None else spans
    for span in source.spans:
        if span.kind == ERROR:
            code = exit_code(source.text[span.start : span.end])
            if code or span.start == 0:
                source.failed = True
                break


def _head_end(text: str, limit: int) -> int:
    """The end of a message's opening: whole lines within `limit` characters, else a cut at whitespace."""
    if len(text) <= limit:
        return len(text)
    nl = text.rfind("\n", 0, limit)
    if nl > 0:
        return nl
    at = text.rfind(" ", 0, limit)
    return at if at > 0 else 0


def _cost(source: Source, start: int, end: int) -> int:
    return int((end - start) * source.rest_ratio) + 2


@dataclass(slots=True)
class Plan:
    """Every candidate item, costed and in the order of selection; built once, selected from often."""

    items: list[_Item]
    repeats: dict[str, int]
    found: dict[int, int]


def plan(sources: list[Source], count: Callable[[str], int]) -> Plan:
    """Costs the calls and diagnostic lines exactly (they are few and short), the rest by each
    message's own tokens per character."""
    items: list[_Item] = []
    repeats: dict[str, int] = {}
    found = {ERROR: 0, FRAME: 0, WARNING: 0, MENTION: 0, SOURCE: 0, -1: 0}
    for s, source in enumerate(sources):
        for k, line in enumerate(source.calls):
            prio = P_ERROR if source.call_failed[k] else P_USER
            items.append(_Item(prio, s, -1 - k, 0, count(line) + 1))
            found[-1] += 1
        diag_tokens = diag_chars = 0
        for span, prio in zip(source.spans, priorities(source.text, source.spans), strict=True):
            line = source.text[span.start : span.end]
            key = line.strip() if span.kind != SOURCE else None
            if key is not None:
                repeats[key] = repeats.get(key, 0) + 1
            found[span.kind] += 1
            cost = count(line) + 2
            diag_tokens += cost - 2
            diag_chars += len(line)
            items.append(_Item(prio, s, span.start, span.end, cost, key))
        rest = len(source.text) - diag_chars
        source.rest_ratio = max(source.tokens - diag_tokens, 0) / rest if rest > 0 else source.ratio
        limit = _HEAD_CHARS.get(source.role, 300)
        end = _head_end(source.text, limit)
        if end > 0:
            prio = {"user": P_USER, "assistant": P_ASSISTANT}.get(source.role, P_TOOL_HEAD)
            items.append(_Item(prio, s, 0, end, _cost(source, 0, end)))
    _order(items)
    items.sort(key=lambda it: (it.prio, it.order))
    return Plan(items, repeats, found)


def _order(items: list[_Item]) -> None:
    """Newest first within a priority; among errors, the first occurrence of each kind of error, oldest
    first, before all repeats, and the repeats of rare kinds before those of a flood (see `rank`)."""
    first: dict[str, tuple[int, int]] = {}
    seen: dict[str, int] = {}
    for it in items:
        if it.prio == P_ERROR and it.key is not None:
            kind = template(it.key)
            first.setdefault(kind, (it.src, it.start))
            seen[kind] = seen.get(kind, 0) + 1
    for it in items:
        kind = template(it.key) if it.prio == P_ERROR and it.key is not None else ""
        if it.prio == P_ERROR and (not kind or first[kind] == (it.src, it.start)):
            it.order = (0, 0, it.src, it.start)
        elif kind:
            it.order = (1, seen[kind], -it.src, it.start)
        else:
            it.order = (1, 0, -it.src, it.start)


def select(sources: list[Source], candidates: Plan, budget: int, marker_cost: int = 6) -> Selection:
    """Greedy by priority, newest first within a priority, until the budget is spent."""
    items, repeats, found = candidates.items, candidates.repeats, candidates.found
    chosen: list[_Item] = []
    active: set[int] = set()
    seen: set[str] = set()
    kept = {ERROR: 0, FRAME: 0, WARNING: 0, MENTION: 0, SOURCE: 0, -1: 0}
    left = budget
    for it in items:
        kind = _kind(it)
        if it.key is not None and it.key in seen:
            kept[kind] += 1
            continue
        cost = it.cost + (marker_cost if it.src not in active else 0)
        if cost > left:
            continue
        left -= cost
        active.add(it.src)
        chosen.append(it)
        if it.key is not None:
            seen.add(it.key)
        if kind in kept and (it.key is not None or it.start < 0):
            kept[kind] += 1
    if left > 0:
        left = _fill(sources, chosen, active, left, marker_cost)
    return Selection(chosen, budget - left, repeats, found, kept)


def _kind(it: _Item) -> int:
    if it.start < 0:
        return -1
    kinds = {
        P_ERROR: ERROR,
        P_TOP_FRAME: FRAME,
        P_FRAME: FRAME,
        P_LIB_FRAME: FRAME,
        P_WARNING: WARNING,
        P_MENTION: MENTION,
    }
    return kinds.get(it.prio, -2)


def _fill(sources: list[Source], chosen: list[_Item], active: set[int], left: int, marker_cost: int) -> int:
    """Spends what is left of the budget on whole lines, newest messages first, each from its top."""
    taken: dict[int, list[tuple[int, int]]] = {}
    for it in chosen:
        if it.start >= 0:
            taken.setdefault(it.src, []).append((it.start, it.end))
    for s in range(len(sources) - 1, -1, -1):
        source = sources[s]
        text = source.text
        spans = sorted(taken.get(s, ()))
        pos = 0
        j = 0
        while pos < len(text) and left > 0:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            while j < len(spans) and spans[j][1] < pos:
                j += 1
            if not (j < len(spans) and spans[j][0] <= pos <= spans[j][1]) and end > pos:
                cost = _cost(source, pos, end) - 1 + (marker_cost if s not in active else 0)
                if cost > left:
                    return left
                left -= cost
                active.add(s)
                chosen.append(_Item(P_FILL, s, pos, end, cost))
            pos = end + 1
    return left


def drop(selection: Selection, tokens: int) -> bool:
    """Gives back at least `tokens` of the estimate, lowest priority and oldest first."""
    freed = 0
    while selection.chosen and freed < tokens:
        it = selection.chosen.pop()
        freed += it.cost
    return freed >= tokens


def render(sources: list[Source], selection: Selection, *, markers: bool = True) -> list[str]:
    """The kept lines of each source, in order, with "…" where text was left out."""
    by_src: dict[int, list[_Item]] = {}
    for it in selection.chosen:
        by_src.setdefault(it.src, []).append(it)
    out: list[str] = []
    for s in sorted(by_src):
        source = sources[s]
        text = source.text
        if markers:
            tag = f"{source.role} {source.label}".rstrip()
            out.append(f"#{source.index} {tag}:")
        its = by_src[s]
        for it in sorted((i for i in its if i.start < 0), key=lambda i: -i.start):
            out.append(source.calls[-1 - it.start])
        pos = 0
        for start, end, keys in _merge([i for i in its if i.start >= 0]):
            if start > pos and text[pos:start].strip():
                out.append(ELLIPSIS)
            piece = text[start:end]
            if end < len(text) and text[end] != "\n":
                piece += " " + ELLIPSIS
            times = selection.repeats.get(keys[0], 1) if len(keys) == 1 and "\n" not in piece else 1
            out.append(piece + (f" (seen {times} times)" if times > 1 and not piece.endswith(ELLIPSIS) else ""))
            pos = end
        if text[pos:].strip() and pos > 0:
            out.append(ELLIPSIS)
    return out


def _merge(items: list[_Item]) -> list[tuple[int, int, list[str]]]:
    merged: list[tuple[int, int, list[str]]] = []
    for it in sorted(items, key=lambda i: (i.start, i.end)):
        keys = [it.key] if it.key is not None and it.prio not in (P_TOP_FRAME, P_FRAME, P_LIB_FRAME) else []
        if merged and it.start <= merged[-1][1] + 1:
            start, end, ks = merged[-1]
            merged[-1] = (start, max(end, it.end), ks + keys)
        else:
            merged.append((it.start, it.end, keys))
    return merged

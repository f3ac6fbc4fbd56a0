"""Diagnostic fidelity of compaction: which labelled items survive verbatim, and what was invented.

Items come from the generator's labels file beside a session (`NAME.labels.json`). A
session without one, such as a recorded one, is labelled by `heuristic_labels`: a
separate, stricter grammar of log-level fields and stack-trace formats that shares no
rule with the compactor's scanner (it finds fewer errors written as prose).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tokenops.compaction.counting import Message, TokenCache
from tokenops.compaction.engine import DEFAULT_KEEP_RECENT, compact
from tokenops.compaction.validity import problems
from tokenops.errors import ConfigError
from tokenops.tokenize import Counter, content_text

_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/@#+-]*")
_TRAILING = ".:/-+#@"
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT|^\d\d:\d\d:\d\d")

# The fallback labeller's grammar: severity fields, exception headers, exit statuses, frames.
_LEVEL = re.compile(
    r"(?:^|[\s\[|])(?:ERROR|FATAL|CRITICAL|SEVERE|MAJOR|EMERG|ALERT|CRIT)(?:[\s\]|:]|$)"
    r"|\blevel=(?:error|fatal)\b|^[EF]\d{4} "
)
_EXC_HEAD = re.compile(r"^(?:Caused by: |E\s+)?[A-Za-z_][\w.$]*(?:Error|Exception|Failure)\b")
_EXIT_BAD = re.compile(r"(?:exit code:? |status=)([1-9]\d*)|^FAILED |BUILD FAILURE")
_FRAME = re.compile(r'^\s+at \S+\(.*\)\s*$|^\s*File ".+", line \d+|^\s*\.\.\. \d+ more\s*$')


@dataclass
class SessionLabels:
    error_lines: list[str]
    stack_frames: list[str]
    identifiers: list[str]
    warning_lines: list[str]
    failing_commands: list[str]
    frame_references: list[str]
    source: str  # "file" or "heuristic"
    generator: str = ""
    root_cause: list[str] = field(default_factory=list)  # every one must survive for the diagnosis to stand
    error_styles: dict[str, str] = field(default_factory=dict)  # error line -> the format it is written in
    frame_styles: dict[str, str] = field(default_factory=dict)  # stack frame -> language


@dataclass
class Score:
    session: str
    ratio: float
    tokens_before: int
    tokens_after: int
    target_tokens: int
    error_lines_kept: float
    stack_frames_kept: float
    identifiers_kept: float
    warning_lines_kept: float
    failing_commands_kept: float
    frame_references_kept: float
    invented_identifiers: int
    items: dict[str, int]
    labels: str
    elapsed_ms: float
    root_cause_kept: float = 1.0
    root_cause_whole: bool = True  # every root-cause line kept
    valid: bool = True  # the output is a conversation a server accepts
    generator: str = ""
    by_style: dict[str, list[int]] = field(default_factory=dict)  # error-line format -> [lines, kept]
    by_language: dict[str, list[int]] = field(default_factory=dict)  # stack-frame language -> [frames, kept]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_session(path: Path) -> list[Message]:
    """A session file: one OpenAI chat message a line (blank lines skipped)."""
    messages: list[Message] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read session: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            m = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ConfigError(f"{path}:{n}: not a JSON object") from None
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ConfigError(f"{path}:{n}: not a chat message (needs a role)")
        messages.append(m)
    return messages


def message_strings(m: Message) -> Iterator[str]:
    """Every text a message carries: content, tool call ids, names, raw and decoded arguments."""
    yield content_text(m.get("content"))
    for key in ("tool_call_id", "name"):
        if isinstance(m.get(key), str):
            yield m[key]
    for call in m.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        yield str(call.get("id", ""))
        fn = call.get("function") or {}
        yield str(fn.get("name", ""))
        raw = fn.get("arguments", "")
        yield str(raw)
        with contextlib.suppress(orjson.JSONDecodeError):
            yield from _strings(orjson.loads(raw)) if isinstance(raw, str) and raw else ()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield orjson.dumps(value).decode()


def tokens(texts: Iterable[str]) -> set[str]:
    """Word-like tokens, trailing punctuation removed: how identifiers are compared."""
    out: set[str] = set()
    for text in texts:
        out.update(t.rstrip(_TRAILING) for t in _TOKEN.findall(text))
    return out


def identifier_like(token: str) -> bool:
    """A token that could be an ID: a digit in it, and five characters or more."""
    return len(token) >= 5 and any(ch.isdigit() for ch in token)


def invented(before: Sequence[Message], after: Sequence[Message]) -> list[str]:
    """Identifier-like tokens of the output that are not tokens of the input, sorted."""
    known = tokens(s for m in before for s in message_strings(m))
    found = tokens(s for m in after for s in message_strings(m))
    return sorted(t for t in found if identifier_like(t) and t not in known)


def heuristic_labels(messages: Sequence[Message]) -> SessionLabels:
    """Labels for a session without a labels file, by the fallback grammar above."""
    labels = SessionLabels([], [], [], [], [], [], "heuristic")
    for m in messages:
        for line in content_text(m.get("content")).splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if _FRAME.search(line):
                labels.stack_frames.append(stripped)
            elif _LEVEL.search(line) or _EXC_HEAD.search(stripped) or _EXIT_BAD.search(stripped):
                labels.error_lines.append(stripped)
                labels.identifiers += [t for t in tokens([stripped]) if identifier_like(t) and not _TIMESTAMP.match(t)]
            elif re.search(r"(?:^|[\s\[|])(?:WARN|WARNING)(?:[\s\]|:]|$)", line):
                labels.warning_lines.append(stripped)
    return labels


def load_labels(session: Path, messages: Sequence[Message]) -> SessionLabels:
    path = session.with_name(session.name.removesuffix(".jsonl") + ".labels.json")
    if not path.exists():
        return heuristic_labels(messages)
    data = orjson.loads(path.read_bytes())
    return SessionLabels(
        [str(x) for x in data.get("error_lines", [])],
        [str(x) for x in data.get("stack_frames", [])],
        [str(x) for x in data.get("identifiers", [])],
        [str(x) for x in data.get("warning_lines", [])],
        [str(x) for x in data.get("failing_commands", [])],
        [str(x) for x in data.get("frame_references", [])],
        "file",
        str(data.get("generator", "")),
        [str(x) for x in data.get("root_cause", [])],
        {str(k): str(v) for k, v in (data.get("error_styles") or {}).items()},
        {str(k): str(v) for k, v in (data.get("frame_styles") or {}).items()},
    )


def _share(items: Sequence[str], present: Any) -> float:
    unique = set(items)
    if not unique:
        return 1.0
    return sum(1 for item in unique if present(item)) / len(unique)


def _by(styles: dict[str, str], items: Sequence[str], present: Any) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for item in set(items):
        cell = out.setdefault(styles.get(item, "?"), [0, 0])
        cell[0] += 1
        cell[1] += bool(present(item))
    return dict(sorted(out.items()))


def identifier_kept(identifier: str, text: str, out_tokens: set[str]) -> bool:
    """The identifier is in the text as itself: a whole token, or inside a longer one (`10.0.0.1` in
    `10.0.0.1:5060`) with no letter or digit joined on either side."""
    if tokens([identifier]) <= out_tokens:
        return True
    at = text.find(identifier)
    while at >= 0:
        end = at + len(identifier)
        if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        at = text.find(identifier, at + 1)
    return False


def score(
    name: str,
    messages: Sequence[Message],
    labels: SessionLabels,
    ratio: float,
    counter: Counter,
    cache: TokenCache | None = None,
    keep_recent: int = DEFAULT_KEEP_RECENT,
) -> Score:
    """Compacts a session to 1/ratio of its tokens and scores what survived."""
    cache = cache or TokenCache(counter)
    before_tokens = cache.request(messages)
    target = math.ceil(before_tokens / ratio)
    result = compact(messages, counter=counter, target_tokens=target, cache=cache, keep_recent=keep_recent)
    return measure(
        Outcome(name, ratio, result.tokens_before, result.tokens_after, target, result.elapsed_ms),
        messages,
        result.messages,
        labels,
    )


@dataclass
class Outcome:
    """What a compaction run reports about itself, whichever code ran it."""

    session: str
    ratio: float
    tokens_before: int
    tokens_after: int
    target_tokens: int
    elapsed_ms: float


def measure(run: Outcome, messages: Sequence[Message], output: Sequence[Message], labels: SessionLabels) -> Score:
    """Scores a compacted conversation against the labels of the session it came from."""
    text = "\n".join(s for m in output for s in message_strings(m))
    out_tokens = tokens([text])
    kept_line = text.__contains__
    root = set(labels.root_cause)
    root_kept = sum(1 for line in root if kept_line(line))
    return Score(
        session=run.session,
        ratio=run.ratio,
        tokens_before=run.tokens_before,
        tokens_after=run.tokens_after,
        target_tokens=run.target_tokens,
        error_lines_kept=_share(labels.error_lines, kept_line),
        stack_frames_kept=_share(labels.stack_frames, kept_line),
        identifiers_kept=_share(labels.identifiers, lambda item: identifier_kept(item, text, out_tokens)),
        warning_lines_kept=_share(labels.warning_lines, kept_line),
        failing_commands_kept=_share(labels.failing_commands, kept_line),
        frame_references_kept=_share(labels.frame_references, lambda item: tokens([item]) <= out_tokens),
        invented_identifiers=len(invented(messages, output)),
        items={
            "error_lines": len(set(labels.error_lines)),
            "stack_frames": len(set(labels.stack_frames)),
            "identifiers": len(set(labels.identifiers)),
            "warning_lines": len(set(labels.warning_lines)),
            "failing_commands": len(set(labels.failing_commands)),
            "frame_references": len(set(labels.frame_references)),
            "root_cause": len(root),
        },
        labels=labels.source,
        elapsed_ms=round(run.elapsed_ms, 2),
        root_cause_kept=root_kept / len(root) if root else 1.0,
        root_cause_whole=root_kept == len(root),
        valid=not problems(output),
        generator=labels.generator,
        by_style=_by(labels.error_styles, labels.error_lines, kept_line),
        by_language=_by(labels.frame_styles, labels.stack_frames, kept_line),
    )


def session_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a folder of sessions")
    return sorted(directory.glob("*.jsonl"))

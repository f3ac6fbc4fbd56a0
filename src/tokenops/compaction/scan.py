"""Finds the diagnostic lines of a text: errors, stack frames, warnings, file:line references.

One case-insensitive pass over the whole text finds candidate lines in C; only those
lines (a few percent of a log) are classified in Python, so a 200,000-token session
scans in milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ERROR = 0
FRAME = 1
WARNING = 2
MENTION = 3  # failure words on a line whose own level says it is routine (INFO, CLEARED)
SOURCE = 5  # the source line printed under a Python frame

# Words that make a line worth a closer look; deliberately broad (substrings of the
# lowercased text), since a false candidate costs only a classification.
_WORD_LIST = (
    "error err fatal fail exception panic traceback critical crit emerg alert denied refused forbidden "
    "unauthori timeout timed|out killed oom segfault segmentation core|dumped unreachable backoff evicted "
    "abort caused|by assert exit returncode rc= non-zero unhealthy degraded alarm major warn deprecat "
    "reset|by|peer no|route no|space too|many deadlock nxdomain expired reject invalid cannot can't "
    "could|not couldn't unable|to not|found mismatch corrupt overflow violation down lost dropped "
    "minor indeterminate wrong unavailable exceed threshold"
)
_WORDS = _WORD_LIST.split()
# Shapes, each with a literal prefix so that the regex engine skips ahead in C.
_SHAPES = (
    r"\n[ \t]+at ",
    r"\n[ \t]*file \"",
    r"\n[ \t]*\.\.\. \d+ more",
    r"\n[efw]\d{4} ",
    r"\.go:\d",
    r"status[=:] ?5\d\d",
    r"\" 5\d\d ",
)


def _trie(words: list[str]) -> str:
    """One regex for many literals, shaped as a trie: several times faster than an alternation."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word.replace("|", " "):
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = "(?:" + "|".join(alts) + ")" if len(alts) > 1 or "" in node else alts[0]
        return body + "?" if "" in node else body

    return build(root)


_CANDIDATE_WORDS = re.compile(_trie(_WORDS))
_CANDIDATE_SHAPES = [re.compile(shape) for shape in _SHAPES]

_ERROR_LINE = re.compile(
    r"""(?ix)
    \b(?:error|errors|err|fatal|fail|fails|failed|failure|failing|exception|panic|panicked|traceback
    |critical|crit|emerg|alert|denied|refused|forbidden|unauthori[sz]ed|timeout|timed\ out|killed
    |oomkilled|oom|segfault|segmentation\ fault|core\ dumped|unreachable|crashloopbackoff
    |imagepullbackoff|errimagepull|backoff|evicted|abort|aborted|caused\ by|unhealthy|degraded|major
    |reset\ by\ peer|no\ route\ to\ host|no\ space\ left|too\ many\ open|deadlock|nxdomain|expired
    |reject|rejected|invalid|cannot|can't|could\ not|couldn't|unable\ to|not\ found|notfound
    |mismatch|corrupt|corrupted|overflow|violation|lost|dropped|non-zero|wrong|unavailable
    |exceeded|exceeds)\b
    | \w+(?:Error|Exception|Fault|Failure)\b
    | \b(?:link|port|interface|is|went|service|node)\ down\b
    | status[=:]\s*5\d\d\b | \s5\d\d\s
    | ^[EF]\d{4}\s | ^<[0-3]>
    """
)
_WARNING_LINE = re.compile(
    r"(?i)\b(?:warn|warning|warnings|deprecated|deprecation|minor|indeterminate|alarm|threshold)\b|^W\d{4}\s|^<4>"
)
_FRAME_LINE = re.compile(
    r"""(?x)
    ^\s+at\s+[\w$.<>\[\]/@:-]+\s?\(      # Java, JavaScript
    | ^\s*File\s"[^"\n]+",\sline\s\d+    # Python
    | ^\s*\.\.\.\s\d+\smore\b            # Java elided frames
    | \.go:\d+(?:\s\+0x[0-9a-f]+)?\s*$   # Go
    """
)
# A line's own level, where it states one, outranks the words on it.
_LEVEL = re.compile(
    r"\b(TRACE|DEBUG|INFO|NOTICE|CLEARED|WARN|WARNING|MINOR|ERROR|ERR|FATAL|CRITICAL|CRIT|MAJOR|SEVERE|EMERG|ALERT)\b"
    r"|\blevel[\"']?[=:]\s*[\"']?([a-z]+)|^([IDWEF])\d{4}\s"
)
_LEVELS = {
    **dict.fromkeys(["TRACE", "DEBUG", "INFO", "NOTICE", "CLEARED", "I", "D"], MENTION),
    **dict.fromkeys(["WARN", "WARNING", "MINOR", "W"], WARNING),
    **dict.fromkeys(["ERROR", "ERR", "FATAL", "CRITICAL", "CRIT", "MAJOR", "SEVERE", "EMERG", "ALERT"], ERROR),
    **dict.fromkeys(["E", "F"], ERROR),
}
_EXIT = re.compile(
    r"(?i)\b(?:exit(?:ed)?(?:\s+with)?\s*(?:code|status)|exit_code|exitcode|returncode|rc|status)\s*[=:]?\s*\[?(-?\d+)"
)


@dataclass(frozen=True, slots=True)
class Span:
    """A diagnostic line: offsets into the text (end excludes the newline) and its kind."""

    start: int
    end: int
    kind: int


def exit_code(line: str) -> int | None:
    """The exit status a line reports, if it reports one."""
    match = _EXIT.search(line)
    return int(match.group(1)) if match else None


def classify(line: str) -> int | None:
    """The kind of a diagnostic line, or None for an ordinary one."""
    if _FRAME_LINE.search(line):
        return FRAME
    level = _LEVEL.search(line)
    if level:
        stated = _LEVELS.get((level.group(1) or level.group(2) or level.group(3)).upper())
        if stated == MENTION:
            return MENTION if _ERROR_LINE.search(line) or _WARNING_LINE.search(line) else None
        if stated is not None:
            return stated
    if _ERROR_LINE.search(line):
        return ERROR
    code = exit_code(line)
    if code is not None:
        return ERROR if code != 0 and "exit" in line.lower() else None
    if _WARNING_LINE.search(line):
        return WARNING
    return None


def _candidates(text: str) -> list[int]:
    """Offsets of candidate matches, in order; the text is lowercased once, ASCII-only if need be."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters change length when lowercased
        low = "".join(ch.lower() if ch.isascii() else ch for ch in text)
    positions = [m.start() for m in _CANDIDATE_WORDS.finditer(low)]
    for shape in _CANDIDATE_SHAPES:
        positions.extend(m.start() + (1 if m.group().startswith("\n") else 0) for m in shape.finditer(low))
    positions.sort()
    return positions


def scan(text: str) -> list[Span]:
    """The diagnostic lines of a text, in order, with the source line under each Python frame."""
    spans: list[Span] = []
    last_end = -1
    for pos in _candidates(text):
        if pos <= last_end:
            continue
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        last_end = end
        line = text[start:end]
        kind = classify(line)
        if kind is None:
            continue
        spans.append(Span(start, end, kind))
        if kind == FRAME and line.lstrip().startswith("File ") and end < len(text):
            nxt = text.find("\n", end + 1)
            nxt = len(text) if nxt < 0 else nxt
            following = text[end + 1 : nxt]
            if following.startswith("    ") and not _FRAME_LINE.search(following):
                spans.append(Span(end + 1, nxt, SOURCE))
                last_end = nxt
    return spans

"""Finds the diagnostic lines of a text: errors, stack frames, warnings, and the lines of their records.

One case-insensitive pass over the whole text finds candidate lines in C (failure words,
severity fields of every common format, status codes, states, frames); only those lines
(a few percent of a log) are classified in Python (see `lines`), so a 300,000-token
session scans in tens of milliseconds. A diagnostic line brings the rest of its record:
the DETAIL and STATEMENT lines under a database error, the header line above a
java.util.logging message, the function line above a Go or Rust file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tokenops.compaction.lines import ERROR, FRAME, MENTION, WARNING, classify_text, exit_code
from tokenops.compaction.patterns import trie

SOURCE = 5  # the source line printed under a Python frame

__all__ = ["ERROR", "FRAME", "MENTION", "SOURCE", "WARNING", "Span", "classify", "exit_code", "scan"]

# Words that make a line worth a closer look; deliberately broad (substrings of the
# lowercased text), since a false candidate costs only a classification.
_WORD_LIST = (
    "error err fatal fail exception panic traceback critical crit emerg alert denied refused forbidden "
    "unauthori timeout timed|out killed oom segfault segmentation core|dumped unreachable backoff evicted "
    "abort caused|by assert exit returncode rc= non-zero unhealthy degraded alarm major warn deprecat "
    "reset|by|peer no|route no|space too|many deadlock nxdomain expired reject invalid cannot can't "
    "could|not couldn't unable|to not|found mismatch corrupt overflow violation down lost dropped "
    "minor indeterminate wrong unavailable exceed threshold severe servfail suspend suspect closed crc "
    "discard drop no|match no|resp no|reply no|answer no|rtp no|such did|not not|respond not|ready "
    "not|reach still|wait replicated retry to|idle to|active to|connect to|init to|inactive to|disabled "
    "to|offline to|dead loss idle opensent openconfirm result-code notready"
)
_WORDS = _WORD_LIST.split()
# syslog PRI values of severity 0-4 (any facility)
_PRI = "|".join(str(n) for n in range(192) if n % 8 <= 4)
# Shapes, most with a literal prefix so that the regex engine skips ahead in C.
_SHAPES = (
    r"\n[ \t]+at ",  # Java, JavaScript, .NET, Rust locations
    r"\n[ \t]*file \"",  # Python
    r"\n[ \t]*\.\.\. \d+ more",
    r"\n[efw]\d{4} \d\d:",  # klog, glog (E1207 09:41:02.123456), at a line's start,
    r"\] [efw]\d{4} \d\d:",  # after a prefix ([pod/name])
    r"\]: [efw]\d{4} \d\d:",  # or inside journald
    r"\.go:\d",
    r"\ngoroutine \d",
    r"\ncreated by ",
    r"\n[ \t]*#\d+ ",  # gdb, PHP, AddressSanitizer
    r"\.rb:\d+:in ",
    r"\.rs:\d+:\d",
    r"\.exs?:\d+: ",
    rf"\n<(?:{_PRI})>",
    r"%[a-z0-9_]+(?:-[a-z0-9_]+)*-[0-4]-[a-z]",  # Cisco mnemonics of severity 0-4
    r"%%\d\d[a-z0-9_]+/[0-4]/",  # Huawei
    r"\"(?:level|severity|priority)\": ?\"?(?:[0-4]|[456]0)\b",
    r"sip/2\.0 [4-6]\d\d",
    r"status(?:-code)?: ?[4-6]\d\d",
    r"─ [4-6]\d\d ",
    r"\t[4-6]\d\d\t",
    r"\"(?:method|sip_status|reply_code|response_code)\": ?\"?[4-6]\d\d",
    r"http/[\d.]+\"? 5\d\d",
    r"\"(?:status|status_code|statuscode|http_status|response_status|code)\": ?\"?5\d\d",
    r"status[=:] ?5\d\d",
    r"\" 5\d\d ",
    r"/-?\d+ 5\d\d ",  # HAProxy: the status after the timers
    r"\nreason: ",
    r"\nwarning: 3\d\d ",
    r"% +/",
    r"\nup\{",
    r"active(?: \(admin\))?[ \t]*\n",  # a BGP peer's state, or a firing alert, ending a table row
    r"connect[ \t]*\n",
)

_FRAME_LINE = re.compile(
    r"""(?x)
    ^\s+at\ (?:async\ |new\ )?[^\s(]+(?:\ \[as\ [^\]]+\])?\ ?\(          # Java, JavaScript, .NET
    | ^\s+at\ (?:async\ )?[^\s(]+:\d+(?::\d+)?\s*$                       # JavaScript, Rust locations
    | ^\s*File\ "[^"\n]+",\ line\ \d+                                  # Python
    | ^\s*\.\.\.\ \d+\ (?:more|common\ frames\ omitted)\b              # Java elided frames
    | ^\s+\S+\.go:\d+(?:\s|$)                                          # Go location
    | ^goroutine\ \d+\ \[[^\]]+\]:\s*$ | ^created\ by\ \S                 # Go goroutine headers
    | ^\s*(?:from\ )?\S+\.rb:\d+:in\ [`']                              # Ruby
    | ^\#\d+\s+(?:0x[0-9a-f]+\ in\ )?\S+\ \(.*\)(?:\ at\ \S+:\d+|\ from\ \S+)?\s*$  # gdb
    | ^\s*\#\d+\ 0x[0-9a-f]+\ in\ \S+\ (?:\S+:\d+|\(\S+\))                         # sanitizers
    | ^\#\d+\ (?:\S+\(\d+\)|\[internal\ function\]):\                   # PHP
    | ^\s+\([\w]+(?:\ [\d.]+)?\)\ \S+\.exs?:\d+:\                       # Elixir
    """
)
# A location line whose function is printed on the line above it (Go, Rust).
_LOCATION = re.compile(r"^\s+(?:at\ )?\S+\.(?:go|rs):\d+", re.X)
_FUNCTION = re.compile(r"^(?:\S+\(.*\)|\s+\d+: \S+)\s*$")
_CONTINUATION = re.compile(r"\b(?:DETAIL|HINT|STATEMENT|CONTEXT|QUERY|LOCATION|WHERE):\s")
_JUL_LEVEL = re.compile(r"^(?:SEVERE|WARNING|ERROR|FATAL):")
_PANICKED = re.compile(r"panicked at \S+:\d+:\d+:$")  # Rust 1.73+: the message follows on the next line
_JUL_HEAD = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d\d:\d\d (?:AM|PM) \S")


_CANDIDATE_WORDS = re.compile(trie(_WORDS))
_CANDIDATE_SHAPES = [re.compile(shape) for shape in _SHAPES]


@dataclass(frozen=True, slots=True)
class Span:
    """A diagnostic line: offsets into the text (end excludes the newline) and its kind."""

    start: int
    end: int
    kind: int


def classify(line: str) -> int | None:
    """The kind of a diagnostic line, or None for an ordinary one."""
    if _FRAME_LINE.search(line):
        return FRAME
    return classify_text(line)


def _candidates(text: str) -> list[int]:
    """Offsets of candidate matches, in order; the text is lowercased once, ASCII-only if need be, behind a
    newline so that shapes anchored at a line's start find the first line too."""
    low = "\n" + text.lower()
    if len(low) != len(text) + 1:  # a few non-ASCII letters change length when lowercased
        low = "\n" + "".join(ch.lower() if ch.isascii() else ch for ch in text)
    positions = [m.start() - 1 for m in _CANDIDATE_WORDS.finditer(low)]
    for shape in _CANDIDATE_SHAPES:
        positions.extend(m.start() - (0 if m.group().startswith("\n") else 1) for m in shape.finditer(low))
    positions.sort()
    return positions


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def scan(text: str) -> list[Span]:
    """The diagnostic lines of a text, in order, with the lines that belong to their records."""
    spans: dict[int, Span] = {}
    last_end = -1
    for pos in _candidates(text):
        if pos <= last_end:
            continue
        start = text.rfind("\n", 0, pos) + 1
        end = _line_end(text, pos)
        last_end = end
        if start in spans:
            continue
        line = text[start:end]
        kind = classify(line)
        if kind is None:
            continue
        spans[start] = Span(start, end, kind)
        if kind == FRAME:
            last_end = max(last_end, _frame_context(text, line, start, end, spans))
        elif kind in (ERROR, WARNING):
            last_end = max(last_end, _record(text, line, start, end, kind, spans))
    return [spans[k] for k in sorted(spans)]


def _previous_line(text: str, start: int) -> tuple[int, int]:
    before = max(start - 1, 0)
    return text.rfind("\n", 0, before) + 1, before


def _frame_context(text: str, line: str, start: int, end: int, spans: dict[int, Span]) -> int:
    """Adds the function line above a Go or Rust location, and the source line under a Python frame."""
    if start and _LOCATION.match(line):
        p_start, p_end = _previous_line(text, start)
        if p_start not in spans and _FUNCTION.match(text[p_start:p_end]):
            spans[p_start] = Span(p_start, p_end, FRAME)
    if line.lstrip().startswith("File ") and end < len(text):
        nxt = _line_end(text, end + 1)
        following = text[end + 1 : nxt]
        if following.startswith("    ") and not _FRAME_LINE.search(following):
            spans[end + 1] = Span(end + 1, nxt, SOURCE)
            return nxt
    return end


def _record(text: str, line: str, start: int, end: int, kind: int, spans: dict[int, Span]) -> int:
    """Adds the other lines of a multi-line log record to a diagnostic line; returns where the record ends."""
    if start and _JUL_LEVEL.match(line):
        p_start, p_end = _previous_line(text, start)
        if p_start not in spans and _JUL_HEAD.match(text[p_start:p_end]):
            spans[p_start] = Span(p_start, p_end, kind)
    if end < len(text) and _PANICKED.search(line):
        nxt = _line_end(text, end + 1)
        spans[end + 1] = Span(end + 1, nxt, kind)
        end = nxt
    while end < len(text):
        nxt = _line_end(text, end + 1)
        if not _CONTINUATION.search(text, end + 1, nxt):
            break
        spans[end + 1] = Span(end + 1, nxt, kind)
        end = nxt
    return end

"""The order in which the digest spends its budget: what locates a fault first.

Error lines come first, and among them the first occurrence of each kind of error
(the line with its numbers and IDs masked) before its repeats: an incident's first
symptoms are often its cause, and a later flood of one message should not push them
out. Next come the frames that locate each error: in every run of frames printed right
under an exception, panic or `Caused by:` line, its first and last application frames.
Then the other application frames, warnings, and frames of runtimes and frameworks.
"""

from __future__ import annotations

import re

from tokenops.compaction.scan import ERROR, FRAME, SOURCE, WARNING, Span

# Priorities, lowest first.
P_ERROR, P_TOP_FRAME, P_FRAME, P_WARNING, P_LIB_FRAME, P_USER, P_ASSISTANT, P_MENTION, P_TOOL_HEAD, P_FILL = range(10)

# Frames of runtimes and frameworks: the application's own frames locate a fault first.
_LIBRARY_FRAME = re.compile(
    r"""(?x)
    ^\s*(?:at\s+(?:java\.|javax\.|jdk\.|sun\.|kotlin\.|kotlinx\.|scala\.|akka\.|org\.springframework\.|org\.apache\.
        |org\.hibernate\.|org\.postgresql\.|io\.netty\.|io\.grpc\.|com\.zaxxer\.|reactor\.|okhttp3\.|System\.
        |Microsoft\.|node:|process\.|async\ Promise\.|Socket\.|TCP)
    | File\ "(?:/usr/lib/python|/usr/local/lib/python|<frozen)|File\ "[^"]*(?:site-packages|dist-packages)/
    | runtime\.|\t/usr/local/go/src/|\s+at\ /rustc/|\s+\d+:\ +(?:std|core|alloc)::)
    """
)
_MASK = re.compile(r"\b[0-9a-f]{6,}\b|\d+")


def template(line: str) -> str:
    """The kind of a line: its text with numbers and hexadecimal IDs masked."""
    return _MASK.sub("#", line.lower())


def priorities(text: str, spans: list[Span]) -> list[int]:
    """The priority of each span of a text (in the order of `spans`)."""
    out: list[int] = []
    for span in spans:
        if span.kind == ERROR:
            out.append(P_ERROR)
        elif span.kind == WARNING:
            out.append(P_WARNING)
        elif span.kind == FRAME:
            out.append(P_LIB_FRAME if _LIBRARY_FRAME.match(text, span.start, span.end) else P_FRAME)
        elif span.kind == SOURCE:
            out.append(P_LIB_FRAME)
        else:
            out.append(P_MENTION)
    _promote_top_frames(text, spans, out)
    return out


def _promote_top_frames(text: str, spans: list[Span], prios: list[int]) -> None:
    """In each run of frames right under an error line, its first and last application frames go first."""
    k = 0
    while k < len(spans):
        if spans[k].kind not in (FRAME, SOURCE):
            k += 1
            continue
        j = k
        while j + 1 < len(spans) and spans[j + 1].kind in (FRAME, SOURCE) and _adjacent(text, spans[j], spans[j + 1]):
            j += 1
        if k and spans[k - 1].kind == ERROR and _adjacent(text, spans[k - 1], spans[k], blank=True):
            run = [i for i in range(k, j + 1) if spans[i].kind == FRAME]
            own = [i for i in run if prios[i] == P_FRAME] or run[:1]
            for i in {own[0], own[-1]}:
                prios[i] = P_TOP_FRAME
        k = j + 1


def _adjacent(text: str, a: Span, b: Span, blank: bool = False) -> bool:
    return text.count("\n", a.end, b.start) <= (2 if blank else 1)

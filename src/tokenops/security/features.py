"""Features of one request for the extraction detectors, worked out after the response (off the request path).

A request becomes a sketch of its varying text (word unigrams and bigrams, bottom-k: a cheap
Jaccard estimate), its distillation cues, and one bin in each of a few coarse groups of its
shape (one-shot or conversation, length, output cap, question form, cues, novelty against the
key's earlier prompts, end user, session). The window tests compare histograms of those bins.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from itertools import pairwise
from zlib import crc32

from tokenops.security.cues import REASONING, cues
from tokenops.security.prompt import Prompt

SLOTS = 32
WORDS = 48  # words of a prompt sketched: its first 36 and last 12
_LOW7 = int.from_bytes(b"\x7f" * SLOTS, "big")
_HIGH = int.from_bytes(b"\x80" * SLOTS, "big")
_SHIFT = (5).__rrshift__  # h >> 5 and & 0xff as C-level callables: no Python frame per slot
_BYTE = (0xFF).__and__
SIMILAR = 0.4  # sketches at least this similar, yet not the same, are variations of one template
_SLOT_MASK = SLOTS - 1
_ABOVE = 1 << 32  # above every CRC-32
_QUESTION = re.compile(
    r"^\W*(?:what|why|how|when|where|which|who|whom|whose|is|are|was|were|can|could|should|would|does|do|did|will)\b"
)

# The groups of bins: (name, bin names). A request falls in exactly one bin of each group.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shape", ("one-shot", "one-shot+system", "conversation", "embedding")),
    ("tools", ("none", "tools")),
    ("length", ("<80", "<300", "<1200", ">=1200")),
    ("cap", ("none", "<=300", "<=1000", ">1000")),
    ("form", ("question", "other")),
    ("cues", ("none", "reasoning", "wrapper/teacher")),
    ("novelty", ("first", "repeat", "similar", "novel")),
    ("end_user", ("none", "named")),
    ("session", ("none", "named")),
)
OFFSETS: tuple[int, ...] = tuple(sum(len(b) for _, b in GROUPS[:i]) for i in range(len(GROUPS)))
WIDTH = sum(len(b) for _, b in GROUPS)
NOVELTY = OFFSETS[6]


def label(index: int) -> str:
    """`group:bin` for a global bin index (evidence an operator reads)."""
    for (name, bins), offset in zip(GROUPS, OFFSETS, strict=True):
        if index < offset + len(bins):
            return f"{name}:{bins[index - offset]}"
    raise IndexError(index)


def sketch(text: str) -> int:
    """A densified one-permutation MinHash of the text's word pairs (and words, for a short text; case folded,
    split at white space; the first and last words of a long one), as one integer of SLOTS bytes: in each slot
    a byte of the smallest hash that falls there; an empty slot borrows from the next filled one (rotation
    densification), so the share of equal slots estimates the Jaccard similarity also for short texts. The hash
    is CRC-32, the same in every process, so that sketches agree between replicas and runs. 32 bytes a prompt,
    whatever its size."""
    words = text.lower().encode("utf-8", "replace").split()
    if len(words) > WORDS:
        words = words[: WORDS - 12] + words[-12:]
    hashes = set(map(crc32, map(b" ".join, pairwise(words))))
    if len(words) < 8:  # a short text: its words too, or it has too few pairs to compare
        hashes.update(map(crc32, words))
    if not hashes:
        return 0
    smallest: dict[int, int] = {}
    for h in hashes:
        slot = h & _SLOT_MASK
        if h < smallest.get(slot, _ABOVE):
            smallest[slot] = h
    raw = list(map(smallest.get, range(SLOTS)))
    if len(smallest) < SLOTS:  # an empty slot borrows from the next filled one, marked by how far it is
        first = min(smallest)
        at, h = first + SLOTS, smallest[first]  # the next filled slot, going round, seen from the last one
        for i in range(SLOTS - 1, -1, -1):  # one pass backwards: the next filled slot is always the last one seen
            found = raw[i]
            if found is None:
                raw[i] = h + (37 * (at - i) << 5)
            else:
                at, h = i, found
    return int.from_bytes(bytes(map(_BYTE, map(_SHIFT, raw))), "big")  # type: ignore[arg-type]  # byte: bits 5-12 of each hash


def similarity(a: int, b: int) -> float:
    """Estimated Jaccard similarity of the texts behind two sketches: the share of bytes that agree (a few
    integer operations: bit 7 of each byte of ((x & 0x7f..) + 0x7f..) | x is set where that byte of x is not 0)."""
    x = a ^ b
    differ = ((((x & _LOW7) + _LOW7) | x) & _HIGH).bit_count()
    return (SLOTS - differ) / SLOTS


def closest(a: int, sketches: Collection[int]) -> float | None:
    """The highest `similarity` of sketch `a` to any of `sketches` (None: there are none), in one expression
    rather than a call per sketch."""
    if not sketches:
        return None
    fewest = min((((((x := a ^ b) & _LOW7) + _LOW7) | x) & _HIGH).bit_count() for b in sketches)
    return (SLOTS - fewest) / SLOTS


def novelty_bin(nearest: float | None) -> int:
    """The novelty bin of a prompt whose most similar predecessor (of the same key) scored `nearest`."""
    if nearest is None:
        return NOVELTY
    if nearest >= 0.9:
        return NOVELTY + 1
    return NOVELTY + (2 if nearest >= SIMILAR else 3)


@dataclass(frozen=True, slots=True)
class Features:
    sketch: int
    cues: int  # of the text and the system prompt together
    system_cues: int  # of the system prompt alone (a key resends the same one: worked out once)
    bins: tuple[int, ...]  # the global bin of each group but novelty, which depends on the key's history


def _pick(value: int, bounds: tuple[int, ...]) -> int:
    for i, bound in enumerate(bounds):
        if value < bound:
            return i
    return len(bounds)


def features(prompt: Prompt, end_user: bool, session: bool, system_cues: int = -1) -> Features:
    """`system_cues`: the cues of this system prompt where already known (-1: work them out)."""
    text = prompt.text
    if system_cues < 0:
        system_cues = cues(prompt.system) if prompt.system else 0
    mask = cues(text) | system_cues
    if prompt.embedding:
        shape = 3
    elif prompt.replies:
        shape = 2
    else:
        shape = 1 if prompt.system else 0
    cap = 0 if prompt.cap is None else 1 + _pick(prompt.cap, (301, 1001))
    form = 0 if text.rstrip().endswith("?") or _QUESTION.match(text.lower()) else 1
    cue = 0 if not mask else 1 if mask == REASONING else 2
    bins = (
        shape,
        OFFSETS[1] + prompt.tools,
        OFFSETS[2] + _pick(prompt.size, (80, 300, 1200)),
        OFFSETS[3] + cap,
        OFFSETS[4] + form,
        OFFSETS[5] + cue,
        OFFSETS[7] + end_user,
        OFFSETS[8] + session,
    )
    return Features(sketch(text), mask, system_cues, bins)

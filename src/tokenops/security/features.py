"""Features of one request for the extraction detectors, worked out after the response (off the request path).

A request becomes a sketch of its varying text (word unigrams and bigrams, bottom-k: a cheap
Jaccard estimate), its distillation cues, and one bin in each of a few coarse groups of its
shape (one-shot or conversation, length, output cap, question form, cues, novelty against the
key's earlier prompts, end user, session). The window tests compare histograms of those bins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from operator import eq
from zlib import crc32

from tokenops.security.cues import REASONING, cues
from tokenops.security.prompt import Prompt

SLOTS = 32
SIMILAR = 0.4  # sketches at least this similar, yet not the same, are variations of one template
_SLOT_MASK = SLOTS - 1
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


def sketch(text: str) -> bytes:
    """A densified one-permutation MinHash of the text's words and word pairs (case folded, split at white
    space): in each of SLOTS slots the low byte of the smallest hash that falls there; an empty slot borrows
    from the next filled one (rotation densification), so the share of equal slots estimates the Jaccard
    similarity also for short texts. The hash is CRC-32, the same in every process, so that sketches agree
    between replicas and runs. 32 bytes a prompt, whatever its size."""
    words = text.lower().encode("utf-8", "replace").split()
    hashes = set(map(crc32, words))
    hashes.update(map(crc32, map(b" ".join, pairwise(words))))
    if not hashes:
        return bytes(SLOTS)
    ordered = sorted(hashes, reverse=True)
    smallest = dict(zip(map(_SLOT_MASK.__and__, ordered), ordered, strict=True))  # the last, smallest, wins
    low = list(map(smallest.get, range(SLOTS)))
    if None in low:
        filled = [(i, h) for i, h in enumerate(low) if h is not None]
        for i in range(SLOTS):
            if low[i] is None:
                j, h = min(filled, key=lambda f: (f[0] - i) & _SLOT_MASK)
                low[i] = h + 37 * SLOTS * ((j - i) & _SLOT_MASK)
    return bytes(((h or 0) >> 4) & 0xFF for h in low)


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the texts behind two sketches: the share of slots that agree."""
    return bytes(map(eq, a, b)).count(1) / SLOTS


def novelty_bin(nearest: float | None) -> int:
    """The novelty bin of a prompt whose most similar predecessor (of the same key) scored `nearest`."""
    if nearest is None:
        return NOVELTY
    if nearest >= 0.9:
        return NOVELTY + 1
    return NOVELTY + (2 if nearest >= SIMILAR else 3)


@dataclass(frozen=True, slots=True)
class Features:
    sketch: bytes
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

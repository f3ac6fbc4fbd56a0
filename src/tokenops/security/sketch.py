"""Bottom-k MinHash sketches of prompt text: cheap Jaccard estimates between prompts."""

from __future__ import annotations

import heapq

K = 48
SHINGLE = 5


def sketch(text: str, edge: int = 256) -> frozenset[int]:
    """The K smallest hashes of the character shingles of the text's head and tail (case and
    whitespace folded), so a sketch costs the same for a 100-byte and a 100-kilobyte prompt.

    Hashes are the interpreter's own string hashes: per process, as the detectors' state is.
    """
    head = " ".join(text[:edge].lower().split())
    tail = " ".join(text[-edge:].lower().split()) if len(text) > 2 * edge else ""
    hashes = {hash(part[i : i + SHINGLE]) for part in (head, tail) for i in range(max(1, len(part) - SHINGLE + 1))}
    return frozenset(heapq.nsmallest(K, hashes))


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Estimated Jaccard similarity of the texts behind two sketches: the sketches' own overlap.

    One C-level set intersection, no sorting: cheap enough to compare every prompt with
    a window of its predecessors on the request path.
    """
    if a == b:
        return 1.0
    both = len(a & b)
    return both / (len(a) + len(b) - both)

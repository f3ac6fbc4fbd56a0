"""A subject's recent requests as a histogram of feature bins, and the window test against benign profiles.

The test is a maximum-mean-discrepancy test with the linear kernel on the one-hot bin map: the
squared distance between the window's bin shares and a benign profile's. Benign traffic is of
several kinds (agents, batch jobs, apps, people), so a window is compared with the nearest
benign profile, not with their mixture; the threshold is the distance that benign windows of the
same size stay under in calibration (`reference.py`). Updating a window costs one step per group.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from tokenops.security.features import GROUPS, WIDTH, label

CAPACITY = 48


class Window:
    """The bins of a subject's last `capacity` requests, as a ring and a histogram kept in step."""

    __slots__ = ("capacity", "counts", "ring")

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.ring: deque[tuple[int, ...]] = deque()
        self.counts = [0] * WIDTH

    @property
    def n(self) -> int:
        return len(self.ring)

    def add(self, bins: tuple[int, ...]) -> None:
        if len(self.ring) == self.capacity:
            for b in self.ring.popleft():
                self.counts[b] -= 1
        self.ring.append(bins)
        for b in bins:
            self.counts[b] += 1

    def share(self, *bins: int) -> float:
        return sum(self.counts[b] for b in bins) / len(self.ring) if self.ring else 0.0

    def shares(self) -> list[float]:
        n = len(self.ring) or 1
        return [c / n for c in self.counts]


def pooled(windows: Iterable[Window]) -> tuple[list[float], int]:
    """The bin shares of several windows taken as one sample, and its size."""
    counts = [0] * WIDTH
    n = 0
    for w in windows:
        n += w.n
        for i, c in enumerate(w.counts):
            counts[i] += c
    return [c / (n or 1) for c in counts], n


def distance(shares: Sequence[float], profile: Sequence[float]) -> float:
    """MMD squared, linear kernel on the one-hot bins: the squared distance of the two share vectors."""
    return sum((a - b) * (a - b) for a, b in zip(shares, profile, strict=True))


def departures(shares: Sequence[float], profile: Sequence[float], top: int = 4) -> dict[str, float]:
    """The bins that differ most from the profile (window share minus profile share): the evidence."""
    diffs = sorted(((a - b, i) for i, (a, b) in enumerate(zip(shares, profile, strict=True))), key=lambda d: -abs(d[0]))
    return {label(i): round(d, 2) for d, i in diffs[:top] if abs(d) >= 0.05}


def group_names() -> list[str]:
    return [name for name, _ in GROUPS]

"""Cost-quality curve of a router and its summaries (CPT, APGR, savings at a quality target).

Routing the top-scored share `s` of prompts to the strong model yields quality
`q(s)` = mean of the strong model's quality on routed prompts and the weak model's on
the others. Prompts with equal scores cannot be split by a threshold, so the curve is
linear between tie groups (the expected value of breaking ties at random).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Point:
    share: float  # of calls sent to the strong model
    quality: float
    threshold: float | None  # route strong when score >= threshold; None: nothing routed


@dataclass(frozen=True, slots=True)
class Curve:
    points: tuple[Point, ...]  # share 0 to 1, increasing
    weak: float  # quality with every call on the weak model
    strong: float  # ... and on the strong one

    @property
    def gap(self) -> float:
        return self.strong - self.weak

    def quality_at(self, share: float) -> float:
        pts = self.points
        for a, b in itertools.pairwise(pts):
            if share <= b.share:
                if b.share == a.share:
                    return b.quality
                t = (share - a.share) / (b.share - a.share)
                return a.quality + t * (b.quality - a.quality)
        return pts[-1].quality

    def point_at(self, share: float) -> Point:
        """The first point a threshold can reach whose strong share is at least `share` (whole tie groups)."""
        for point in self.points:
            if point.share >= share - 1e-12:
                return point
        return self.points[-1]

    def threshold_at(self, share: float) -> float | None:
        """The threshold of the first tie group whose inclusion reaches `share`."""
        return self.point_at(share).threshold

    def quality_at_threshold(self, threshold: float) -> Point:
        """Where routing `score >= threshold` to the strong model lands on this curve."""
        reached = self.points[0]
        for point in self.points[1:]:
            if point.threshold is not None and point.threshold >= threshold:
                reached = point
        return reached

    def share_for_quality(self, target: float) -> float | None:
        """The least strong share whose quality reaches `target`; None if none does."""
        pts = self.points
        if pts[0].quality >= target:
            return 0.0
        for a, b in itertools.pairwise(pts):
            if b.quality >= target:
                if b.quality == a.quality:
                    return b.share
                t = (target - a.quality) / (b.quality - a.quality)
                return a.share + t * (b.share - a.share)
        return None


def curve(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]) -> Curve:
    n = len(scores)
    if n == 0 or len(weak) != n or len(strong) != n:
        raise ValueError("curve needs equally long, non-empty scores and qualities")
    total_weak = sum(weak)
    order = sorted(range(n), key=lambda i: -scores[i])
    points = [Point(0.0, total_weak / n, None)]
    gained = 0.0
    for k, i in enumerate(order):
        gained += strong[i] - weak[i]
        last_of_group = k + 1 == n or scores[order[k + 1]] != scores[i]
        if last_of_group:
            points.append(Point((k + 1) / n, (total_weak + gained) / n, scores[i]))
    return Curve(tuple(points), total_weak / n, sum(strong) / n)


def oracle_curve(weak: Sequence[float], strong: Sequence[float]) -> Curve:
    """The best router: strong calls where they gain most, in order of gain."""
    return curve([s - w for w, s in zip(weak, strong, strict=True)], weak, strong)


def pgr(c: Curve, quality: float) -> float:
    return (quality - c.weak) / c.gap if c.gap else 0.0


def cpt(c: Curve, fraction: float) -> float | None:
    """Strong share needed to recover `fraction` of the weak-to-strong quality gap."""
    if c.gap <= 0:
        return None
    return c.share_for_quality(c.weak + fraction * c.gap)


def apgr(c: Curve) -> float | None:
    """Average performance gap recovered: area under PGR over the strong share."""
    if c.gap <= 0:
        return None
    area = 0.0
    for a, b in itertools.pairwise(c.points):
        area += (b.share - a.share) * (pgr(c, a.quality) + pgr(c, b.quality)) / 2
    return area


def savings_at(c: Curve, fraction_of_strong: float = 0.95) -> float | None:
    """1 - strong share needed to reach `fraction_of_strong` x the strong model's quality."""
    share = c.share_for_quality(fraction_of_strong * c.strong)
    return None if share is None else 1.0 - share


def random_summary(weak: float, strong: float, fraction_of_strong: float = 0.95) -> dict[str, float | None]:
    """A random router is the diagonal: quality grows linearly with the strong share."""
    gap = strong - weak
    target = fraction_of_strong * strong
    if weak >= target:
        savings: float | None = 1.0
    elif gap <= 0:
        savings = None
    else:
        savings = 1.0 - (target - weak) / gap
    ok = gap > 0
    return {
        "cpt50": 0.5 if ok else None,
        "cpt80": 0.8 if ok else None,
        "cpt95": 0.95 if ok else None,
        "apgr": 0.5 if ok else None,
        "savings_at_95pct_strong_accuracy": savings,
    }


def summary(c: Curve, fraction_of_strong: float = 0.95) -> dict[str, float | None]:
    return {
        "cpt50": cpt(c, 0.5),
        "cpt80": cpt(c, 0.8),
        "cpt95": cpt(c, 0.95),
        "apgr": apgr(c),
        "savings_at_95pct_strong_accuracy": savings_at(c, fraction_of_strong),
    }

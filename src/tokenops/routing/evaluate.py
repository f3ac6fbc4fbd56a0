"""Evaluate a router on recorded (prompt, weak quality, strong quality) data, overall and per kind.

Prompts the router was trained on are left out, so on its own training data the report
covers the held-out split only, and on any other data every row. For an operator the report
also names the threshold that meets a quality target (a share of the strong model's quality)
or a budget of strong calls, for all traffic and for each kind of prompt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokenops.errors import ConfigError
from tokenops.routing import metrics
from tokenops.routing.dataset import Row, load
from tokenops.routing.model import ComplexityRouter

CURVE_SHARES = tuple(i / 20 for i in range(21))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _rounded(figures: dict[str, float | None]) -> dict[str, float | None]:
    return {k: _round(v) for k, v in figures.items()}


def curve_table(curve: metrics.Curve, shares: tuple[float, ...] = CURVE_SHARES) -> list[dict[str, Any]]:
    rows = []
    for share in shares:
        quality = curve.quality_at(share)
        rows.append(
            {
                "strong_share": share,
                "quality": _round(quality),
                "pgr": _round(metrics.pgr(curve, quality)),
                "threshold": _round(curve.threshold_at(share)),
            }
        )
    return rows


def operating_point(
    curve: metrics.Curve, quality: float | None = None, strong_share: float | None = None
) -> dict[str, Any] | None:
    """The threshold that reaches `quality` (a fraction of the strong model's) or keeps to `strong_share`."""
    if quality is not None:
        share = curve.share_for_quality(quality * curve.strong)
        if share is None:
            return {"target_quality": quality, "reached": False, "strong_share": 1.0, "threshold": None}
    elif strong_share is not None:
        share = strong_share
    else:
        return None
    point = curve.point_at(share)
    reached = quality is None or point.quality >= quality * curve.strong - 1e-12
    return {
        "target_quality": quality,
        "target_strong_share": strong_share,
        "reached": reached,
        "strong_share": _round(point.share),
        "quality": _round(point.quality),
        "quality_of_strong": _round(point.quality / curve.strong) if curve.strong else None,
        "threshold": _round(point.threshold),
    }


def comparable(rows: Sequence[Row]) -> tuple[list[Row], bool]:
    """Rows on one quality scale: as they are, or each put on 0-1 by its own scale where scales differ."""
    if len({(r.lo, r.hi) for r in rows}) <= 1:
        return list(rows), False
    return [
        replace(r, weak=(r.weak - r.lo) / ((r.hi - r.lo) or 1.0), strong=(r.strong - r.lo) / ((r.hi - r.lo) or 1.0))
        for r in rows
    ], True


def kind_report(
    rows: Sequence[Row],
    scores: Sequence[float],
    quality: float | None = None,
    strong_share: float | None = None,
) -> dict[str, Any]:
    """Curve, CPT/APGR/savings, the random and oracle routers' figures, and the operating point asked for."""
    rows, normalised = comparable(rows)
    weak_q = [r.weak for r in rows]
    strong_q = [r.strong for r in rows]
    curve = metrics.curve(scores, weak_q, strong_q)
    oracle = metrics.oracle_curve(weak_q, strong_q)
    report: dict[str, Any] = {
        "n": len(rows),
        "weak_accuracy": _round(curve.weak),
        "strong_accuracy": _round(curve.strong),
        **_rounded(metrics.summary(curve)),
        "random": _rounded(metrics.random_summary(curve.weak, curve.strong)),
        "oracle": _rounded(metrics.summary(oracle)),
        "curve": curve_table(curve),
    }
    if normalised:
        report["quality_scale"] = "0-1: each row's quality on its own source's scale (0/1, or a judge's 1-10)"
    point = operating_point(curve, quality, strong_share)
    if point is not None:
        report["operating_point"] = point
    return report


def by_kind(
    rows: Sequence[Row],
    scores: Sequence[float],
    quality: float | None = None,
    strong_share: float | None = None,
) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row.kind or "unknown"].append(i)
    return {
        kind: kind_report([rows[i] for i in idx], [scores[i] for i in idx], quality, strong_share)
        for kind, idx in sorted(groups.items())
    }


def router_info(router: ComplexityRouter) -> dict[str, Any]:
    keys = ("name", "trained_at", "train_rows", "data_fingerprint", "kinds")
    return {"feature_set": router.feature_set, **{k: router.meta[k] for k in keys if k in router.meta}}


def evaluate_rows(
    rows: Sequence[Row],
    router: ComplexityRouter,
    quality: float | None = None,
    strong_share: float | None = None,
) -> dict[str, Any]:
    """The router on rows it was not trained on: all of them together, and each kind apart."""
    seen = [r for r in rows if r.key in router.trained_on]
    rows = [r for r in rows if r.key not in router.trained_on]
    if not rows:
        raise ConfigError("no rows left to evaluate (all were in the router's training data)")
    scores = [router.score_prompt(r.parts()) for r in rows]
    report: dict[str, Any] = {
        "training_prompts_excluded": len(seen),
        "scope": "held-out (prompts the router was not trained on)" if seen else "all rows",
        **kind_report(rows, scores, quality, strong_share),
        "router": router_info(router),
    }
    if len({r.kind for r in rows}) > 1:
        report["kinds"] = by_kind(rows, scores, quality, strong_share)
    return report


def evaluate(
    path: Path,
    weak: str,
    strong: str,
    router: ComplexityRouter,
    contaminated: Path | None = None,
    quality: float | None = None,
    strong_share: float | None = None,
) -> dict[str, Any]:
    rows, rows_read, dropped = load(path, weak, strong, contaminated)
    report = evaluate_rows(rows, router, quality, strong_share)
    return {
        "dataset": str(path),
        "weak": weak,
        "strong": strong,
        "rows_read": rows_read,
        "distinct_prompts": len(rows) + dropped,
        "contaminated_dropped": dropped,
        **report,
    }

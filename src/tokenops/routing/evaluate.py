"""Evaluate a router on recorded (prompt, weak quality, strong quality) data.

Prompts the router was trained on are left out, so on its own training data the report
covers the held-out split only, and on any other data every row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenops.errors import ConfigError
from tokenops.routing import metrics
from tokenops.routing.dataset import load, prompt_digest
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


def evaluate(
    path: Path,
    weak: str,
    strong: str,
    router: ComplexityRouter,
    contaminated: Path | None = None,
) -> dict[str, Any]:
    rows, rows_read, dropped = load(path, weak, strong, contaminated)
    seen = [r for r in rows if prompt_digest(r.prompt) in router.trained_on]
    rows = [r for r in rows if prompt_digest(r.prompt) not in router.trained_on]
    if not rows:
        raise ConfigError(f"{path}: no rows left to evaluate (all were in the router's training data)")
    scores = [router.score_text(r.prompt) for r in rows]
    weak_q = [r.weak for r in rows]
    strong_q = [r.strong for r in rows]
    curve = metrics.curve(scores, weak_q, strong_q)
    oracle = metrics.oracle_curve(weak_q, strong_q)
    report: dict[str, Any] = {
        "dataset": str(path),
        "weak": weak,
        "strong": strong,
        "rows_read": rows_read,
        "distinct_prompts": len(rows) + len(seen) + dropped,
        "contaminated_dropped": dropped,
        "training_prompts_excluded": len(seen),
        "scope": "held-out (prompts the router was not trained on)" if seen else "all rows",
        "n": len(rows),
        "weak_accuracy": _round(curve.weak),
        "strong_accuracy": _round(curve.strong),
        **_rounded(metrics.summary(curve)),
        "random": _rounded(metrics.random_summary(curve.weak, curve.strong)),
        "oracle": _rounded(metrics.summary(oracle)),
        "curve": curve_table(curve),
        "router": {
            k: router.meta[k] for k in ("name", "trained_at", "train_rows", "data_fingerprint") if k in router.meta
        },
    }
    return report

"""Train the complexity router: logistic regression with AdaGrad over sparse features.

Pure Python on purpose: a few thousand prompts train in well under a minute, and the
gateway needs no numerical library at run time.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenops.errors import ConfigError
from tokenops.routing.dataset import HELDOUT_FRACTION, SPLIT_SALT, Row, load, prompt_digest, split
from tokenops.routing.features import features, prompt_of_text
from tokenops.routing.model import ComplexityRouter

Progress = Callable[[int, int], None]  # (epoch done, epochs)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 5
    learning_rate: float = 0.005
    l2: float = 1e-3
    min_count: int = 5  # features seen in fewer training prompts are dropped
    target: str = "gain"  # gain: strong better than weak; weak_fails: 1 - weak quality
    seed: int = 7


def targets(rows: Sequence[Row], target: str) -> list[float]:
    """Soft labels in [0, 1]; numeric scores are scaled by the range they span in the data."""
    lo = min(min(r.weak, r.strong) for r in rows)
    hi = max(max(r.weak, r.strong) for r in rows)
    span = (hi - lo) or 1.0
    if target == "gain":
        return [min(1.0, max(0.0, (r.strong - r.weak) / span)) for r in rows]
    if target == "weak_fails":
        return [(hi - r.weak) / span for r in rows]
    raise ValueError(f"unknown target {target!r}")


def featurize(rows: Sequence[Row]) -> list[list[str]]:
    return [features(prompt_of_text(r.prompt)) for r in rows]


def fit(
    feats: Sequence[Sequence[str]],
    labels: Sequence[float],
    config: TrainConfig,
    progress: Progress | None = None,
) -> tuple[dict[str, float], float]:
    """(weights, bias) of a logistic model of `labels` from `feats`."""
    counts = Counter(f for fs in feats for f in set(fs))
    kept = [[f for f in fs if counts[f] >= config.min_count] for fs in feats]
    prior = min(max(sum(labels) / len(labels), 1e-3), 1 - 1e-3)
    bias = math.log(prior / (1 - prior))
    weights: dict[str, float] = {}
    squares: dict[str, float] = {}
    bias_square = 1e-8
    order = list(range(len(kept)))
    rng = random.Random(config.seed)
    lr, l2 = config.learning_rate, config.l2
    for epoch in range(config.epochs):
        rng.shuffle(order)
        for i in order:
            fs = kept[i]
            z = bias + sum(weights.get(f, 0.0) for f in fs)
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else 1.0 - 1.0 / (1.0 + math.exp(z))
            g = p - labels[i]
            bias_square += g * g
            bias -= lr * g / math.sqrt(bias_square)
            for f in fs:
                w = weights.get(f, 0.0)
                grad = g + l2 * w
                sq = squares.get(f, 1e-8) + grad * grad
                squares[f] = sq
                weights[f] = w - lr * grad / math.sqrt(sq)
        if progress is not None:
            progress(epoch + 1, config.epochs)
    return {f: w for f, w in weights.items() if abs(w) >= 1e-4}, bias


def share_thresholds(scores: Sequence[float], steps: int = 20) -> list[tuple[float, float]]:
    """(share, threshold) pairs: scoring >= threshold sent about `share` of these prompts strong."""
    ranked = sorted(scores, reverse=True)
    table = [(0.0, 1.0 + 1e-6)]
    for i in range(1, steps + 1):
        share = i / steps
        table.append((share, ranked[max(0, math.ceil(share * len(ranked)) - 1)]))
    return table


def train_router(
    path: Path,
    weak: str,
    strong: str,
    config: TrainConfig = TrainConfig(),
    heldout_fraction: float = HELDOUT_FRACTION,
    contaminated: Path | None = None,
    progress: Progress | None = None,
) -> ComplexityRouter:
    """Train on the hash split's training part; thresholds come from the held-out part."""
    rows, _, _ = load(path, weak, strong, contaminated)
    train, heldout = split(rows, heldout_fraction)
    if not train:
        raise ConfigError(f"{path}: no training rows")
    weights, bias = fit(featurize(train), targets(train, config.target), config, progress)
    router = ComplexityRouter(weights, bias)
    digests = sorted(prompt_digest(r.prompt) for r in rows)
    router.trained_on = frozenset(prompt_digest(r.prompt) for r in train)
    router.share_thresholds = share_thresholds([router.score_text(r.prompt) for r in heldout or train])
    router.meta = {
        "name": path.name,
        "weak": weak,
        "strong": strong,
        "data_fingerprint": hashlib.sha256("\n".join(digests).encode()).hexdigest(),
        "split": {"salt": SPLIT_SALT, "heldout_fraction": heldout_fraction},
        "train_rows": len(train),
        "heldout_rows": len(heldout),
        "features": len(weights),
        "config": asdict(config),
    }
    return router

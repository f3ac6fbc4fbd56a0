"""Train the complexity router: logistic regression with AdaGrad over sparse features.

Pure Python on purpose: tens of thousands of prompts train in about a minute, and the
gateway needs no numerical library at run time. Rows of several kinds of prompts are
weighted so that each kind counts alike (a big source does not drown a small one), and a
kind's own base rate is absorbed by a per-kind bias used in training only, so the other
weights learn what makes a prompt harder *within* its kind: what carries over to a kind
never seen. Words are kept only where they occur in several kinds.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenops.errors import ConfigError
from tokenops.routing.dataset import HELDOUT_FRACTION, SPLIT_SALT, Row, load, split
from tokenops.routing.features import FEATURE_SETS
from tokenops.routing.model import ComplexityRouter

Progress = Callable[[int, int], None]  # (epoch done, epochs)
KIND_BIAS = "kind-bias:"  # training-only features, never shipped
TARGETS = ("gain", "weak_fails", "blend")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 5
    learning_rate: float = 0.005
    l2: float = 1e-3
    min_count: int = 5  # features seen in fewer training prompts are dropped
    target: str = "gain"  # gain: strong better than weak; weak_fails: 1 - weak quality; blend: their mean
    seed: int = 7
    feature_set: str = "v1"
    min_kinds: int = 1  # a word feature ("u:...") is kept only if seen in this many kinds
    kind_bias: bool = False  # absorb each kind's base rate in a training-only bias
    balance_kinds: bool = False  # weight rows so that every kind counts alike


def target_of(row: Row, target: str) -> float:
    """Soft label in [0, 1] on the row's own quality scale."""
    span = (row.hi - row.lo) or 1.0
    if target == "gain":
        return min(1.0, max(0.0, (row.strong - row.weak) / span))
    if target == "weak_fails":
        return min(1.0, max(0.0, (row.hi - row.weak) / span))
    if target == "blend":  # half each: where the strong model gains, and where the weak one falls short
        return (target_of(row, "gain") + target_of(row, "weak_fails")) / 2
    raise ValueError(f"unknown target {target!r}")


def targets(rows: Sequence[Row], target: str) -> list[float]:
    return [target_of(r, target) for r in rows]


def featurize(rows: Sequence[Row], feature_set: str = "v1") -> list[list[str]]:
    extract = FEATURE_SETS[feature_set]
    return [extract(r.parts()) for r in rows]


def _kept(feats: Sequence[Sequence[str]], kinds: Sequence[str], config: TrainConfig) -> list[list[str]]:
    counts = Counter(f for fs in feats for f in set(fs))
    keep = {f for f, n in counts.items() if n >= config.min_count}
    if config.min_kinds > 1:
        per_kind: dict[str, set[str]] = defaultdict(set)
        for fs, kind in zip(feats, kinds, strict=True):
            per_kind[kind].update(f for f in fs if f.startswith("u:"))
        spread = Counter(f for words in per_kind.values() for f in words)
        keep = {f for f in keep if not f.startswith("u:") or spread[f] >= config.min_kinds}
    return [[f for f in fs if f in keep] for fs in feats]


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else 1.0 - 1.0 / (1.0 + math.exp(z))


def fit(
    feats: Sequence[Sequence[str]],
    labels: Sequence[float],
    config: TrainConfig,
    progress: Progress | None = None,
    kinds: Sequence[str] | None = None,
) -> tuple[dict[str, float], float]:
    """(weights, bias) of a logistic model of `labels` from `feats`; `kinds` as the config asks."""
    kinds = list(kinds) if kinds is not None else [""] * len(feats)
    kept = _kept(feats, kinds, config)
    if config.kind_bias:
        kept = [[*fs, KIND_BIAS + kind] for fs, kind in zip(kept, kinds, strict=True)]
    sizes = Counter(kinds)
    mean_size = len(kinds) / len(sizes)
    scale = [mean_size / sizes[k] if config.balance_kinds else 1.0 for k in kinds]
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
            g = (sigmoid(bias + sum(weights.get(f, 0.0) for f in fs)) - labels[i]) * scale[i]
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
    return {f: w for f, w in weights.items() if abs(w) >= 1e-4 and not f.startswith(KIND_BIAS)}, bias


def share_thresholds(scores: Sequence[float], steps: int = 20) -> list[tuple[float, float]]:
    """(share, threshold) pairs: scoring >= threshold sent about `share` of these prompts strong."""
    ranked = sorted(scores, reverse=True)
    table = [(0.0, 1.0 + 1e-6)]
    for i in range(1, steps + 1):
        share = i / steps
        table.append((share, ranked[max(0, math.ceil(share * len(ranked)) - 1)]))
    return table


def fingerprint(rows: Sequence[Row]) -> str:
    return hashlib.sha256("\n".join(sorted(r.key for r in rows)).encode()).hexdigest()


def train_rows(
    rows: Sequence[Row],
    config: TrainConfig,
    heldout_fraction: float = HELDOUT_FRACTION,
    progress: Progress | None = None,
) -> ComplexityRouter:
    """Train on the hash split's training part (of every kind); thresholds come from the held-out part."""
    train, heldout = split(rows, heldout_fraction)
    if not train:
        raise ConfigError("no training rows (every row fell in the held-out split)")
    weights, bias = fit(
        featurize(train, config.feature_set), targets(train, config.target), config, progress, [r.kind for r in train]
    )
    router = ComplexityRouter(weights, bias, feature_set=config.feature_set)
    router.trained_on = frozenset(r.key for r in train)
    router.share_thresholds = share_thresholds([router.score_prompt(r.parts()) for r in heldout or train])
    kinds = Counter(r.kind for r in train)
    router.meta = {
        "data_fingerprint": fingerprint(rows),
        "split": {"salt": SPLIT_SALT, "heldout_fraction": heldout_fraction},
        "train_rows": len(train),
        "heldout_rows": len(heldout),
        "kinds": dict(sorted(kinds.items())) if any(kinds) else {},
        "features": len(weights),
        "config": asdict(config),
    }
    return router


def train_router(
    path: Path,
    weak: str,
    strong: str,
    config: TrainConfig = TrainConfig(),
    heldout_fraction: float = HELDOUT_FRACTION,
    contaminated: Path | None = None,
    progress: Progress | None = None,
) -> ComplexityRouter:
    """Train on one dataset's prompts (one kind)."""
    rows, _, _ = load(path, weak, strong, contaminated)
    if not rows:
        raise ConfigError(f"{path}: no training rows")
    router = train_rows(rows, config, heldout_fraction, progress)
    router.meta = {"name": path.name, "weak": weak, "strong": strong, **router.meta}
    return router

"""Leave-one-kind-out: how a router recipe does on a kind of prompts it was never trained on.

For each kind, a router is trained with the same recipe (features, target, weighting) on
every other kind and judged on that kind's prompts: the figures a new kind of traffic can
expect, unlike the in-distribution ones of a router evaluated on its own kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tokenops.errors import ConfigError
from tokenops.routing.dataset import Row
from tokenops.routing.evaluate import kind_report
from tokenops.routing.train import TrainConfig, featurize, fit, sigmoid, targets

Progress = Callable[[str], None]  # called with each kind as it starts


def held_out_kinds(
    rows: Sequence[Row],
    config: TrainConfig,
    only: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Per kind: the cost-quality report of a router trained on all the other kinds."""
    kinds = sorted({r.kind for r in rows})
    if len(kinds) < 2:
        raise ConfigError("leave-one-kind-out needs rows of at least two kinds")
    unknown = set(only) - set(kinds)
    if unknown:
        raise ConfigError(f"no rows of kind(s) {', '.join(sorted(unknown))} (kinds: {', '.join(kinds)})")
    feats = featurize(rows, config.feature_set)
    reports: dict[str, dict[str, Any]] = {}
    for held in only or kinds:
        if progress is not None:
            progress(held)
        train = [i for i, r in enumerate(rows) if r.kind != held]
        weights, bias = fit(
            [feats[i] for i in train],
            targets([rows[i] for i in train], config.target),
            config,
            kinds=[rows[i].kind for i in train],
        )
        test = [i for i, r in enumerate(rows) if r.kind == held]
        scores = [sigmoid(bias + sum(weights.get(f, 0.0) for f in feats[i])) for i in test]
        reports[held] = kind_report([rows[i] for i in test], scores)
        reports[held]["trained_on_kinds"] = sorted(set(kinds) - {held})
    return reports

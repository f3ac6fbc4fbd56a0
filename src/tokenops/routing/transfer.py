"""Leave-one-kind-out: how a router recipe does on a kind of prompts it was never trained on.

For each kind, a router is trained with the same recipe (features, target, weighting) on
every other kind and judged on that kind's prompts: the figures a new kind of traffic can
expect, unlike the in-distribution ones of a router evaluated on its own kind. Several kinds
may be held out together (`code,logic,writing`) and judged as one mixture, as traffic of many
kinds is: there the router must also rank one kind against another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tokenops.errors import ConfigError
from tokenops.routing.dataset import Row
from tokenops.routing.evaluate import by_kind, kind_report
from tokenops.routing.train import TrainConfig, featurize, fit, sigmoid, targets

Progress = Callable[[str], None]  # called with each kind as it starts


def held_out_kinds(
    rows: Sequence[Row],
    config: TrainConfig,
    only: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Per kind (or group of kinds, `a,b`): the cost-quality report of a router trained on all the others."""
    kinds = sorted({r.kind for r in rows})
    if len(kinds) < 2:
        raise ConfigError("leave-one-kind-out needs rows of at least two kinds")
    groups = {name: set(name.split(",")) for name in (only or kinds)}
    unknown = set().union(*groups.values()) - set(kinds)
    if unknown:
        raise ConfigError(f"no rows of kind(s) {', '.join(sorted(unknown))} (kinds: {', '.join(kinds)})")
    if any(group >= set(kinds) for group in groups.values()):
        raise ConfigError("a held-out group must leave at least one kind to train on")
    feats = featurize(rows, config.feature_set)
    reports: dict[str, dict[str, Any]] = {}
    for held, group in groups.items():
        if progress is not None:
            progress(held)
        train = [i for i, r in enumerate(rows) if r.kind not in group]
        weights, bias = fit(
            [feats[i] for i in train],
            targets([rows[i] for i in train], config.target),
            config,
            kinds=[rows[i].kind for i in train],
        )
        test = [i for i, r in enumerate(rows) if r.kind in group]
        scores = [sigmoid(bias + sum(weights.get(f, 0.0) for f in feats[i])) for i in test]
        reports[held] = kind_report([rows[i] for i in test], scores)
        if len(group) > 1:
            reports[held]["kinds"] = by_kind([rows[i] for i in test], scores)
        reports[held]["trained_on_kinds"] = sorted(set(kinds) - group)
    return reports

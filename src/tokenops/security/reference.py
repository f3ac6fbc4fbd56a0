"""Benign profiles for the window test: those shipped from calibration, and those an operator's appeals add.

The shipped file (`data/benign.json`) holds, for each kind of benign traffic in the calibration
set, its mean bin shares, and for each window size the distance that benign windows of that
size stayed under (a high quantile, with a margin). `bench/extraction/calibrate.py` writes it
from its own generators, kept apart from the evaluation's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from operator import mul
from typing import Any

from tokenops.errors import ConfigError
from tokenops.security.features import WIDTH, label
from tokenops.security.window import distance


@dataclass(frozen=True, slots=True)
class Reference:
    profiles: dict[str, tuple[float, ...]] = field(default_factory=dict)
    thresholds: tuple[tuple[int, float], ...] = ()  # (window size, distance), sizes ascending

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Reference:
        if doc.get("bins") != [label(i) for i in range(WIDTH)]:
            raise ConfigError(
                "benign calibration: its bins are not the detectors' (rerun bench/extraction/calibrate.py)"
            )
        profiles = {str(k): tuple(float(x) for x in v) for k, v in doc["profiles"].items()}
        thresholds = tuple(sorted((int(n), float(d)) for n, d in doc["thresholds"].items()))
        return cls(profiles, thresholds)

    @classmethod
    def builtin(cls) -> Reference:
        text = resources.files("tokenops.security").joinpath("data/benign.json").read_text(encoding="utf-8")
        return cls.from_doc(json.loads(text))

    def learn(self, name: str, shares: tuple[float, ...]) -> Reference:
        """This reference with one more benign profile (a key an operator marked benign)."""
        if len(shares) != WIDTH:
            return self
        return Reference({**self.profiles, name: shares}, self.thresholds)

    def threshold(self, n: int) -> float | None:
        """The distance a benign window of `n` requests stays under; None below the smallest calibrated size."""
        found = None
        for size, value in self.thresholds:
            if size <= n:
                found = value
        return found

    def blend(self, shares: list[float], rounds: int = 10) -> tuple[dict[str, float], float]:
        """The mixture of benign profiles nearest the window, and its distance (Frank-Wolfe on the simplex):
        a key may well serve an agent and a batch job at once. Run only where no single profile is near."""
        names = list(self.profiles)
        vectors = [self.profiles[n] for n in names]
        weights = [0.0] * len(names)
        best = min(range(len(names)), key=lambda j: distance(shares, vectors[j]))
        weights[best] = 1.0
        mix = list(vectors[best])
        for step in range(rounds):
            gradient = [m - s for m, s in zip(mix, shares, strict=True)]
            scores = [sum(map(mul, gradient, v)) for v in vectors]
            j = scores.index(min(scores))
            rate = 2.0 / (step + 3.0)
            weights = [(1 - rate) * w for w in weights]
            weights[j] += rate
            mix = [(1 - rate) * m + rate * x for m, x in zip(mix, vectors[j], strict=True)]
        return {n: round(w, 2) for n, w in zip(names, weights, strict=True) if w >= 0.05}, distance(shares, mix)

    def nearest(self, shares: list[float]) -> tuple[str, float]:
        best, name = float("inf"), ""
        for kind, profile in self.profiles.items():
            d = distance(shares, profile)
            if d < best:
                best, name = d, kind
        return name, best

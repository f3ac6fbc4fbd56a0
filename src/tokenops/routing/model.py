"""The complexity router: a logistic model over sparse prompt features, shipped as a data file.

`score` estimates the probability that a request needs the strong model (the weak one
fails where the strong one succeeds); `choose` compares it with an operator's threshold.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson

from tokenops.errors import ConfigError
from tokenops.routing.features import FEATURE_SETS, Prompt, prompt_of_chat, prompt_of_text

DEFAULT_MODEL = "kinds-router.json.gz"
FORMAT = "tokenops-complexity-router/1"

Choice = Literal["strong", "weak"]


@dataclass(slots=True)
class ComplexityRouter:
    weights: dict[str, float]
    bias: float = 0.0
    # How the model was made: data fingerprint, split, validation figures.
    meta: dict[str, Any] = field(default_factory=dict)
    # Digests of the training prompts, so evaluation can leave them out.
    trained_on: frozenset[str] = frozenset()
    # Score quantiles on held-out data: share of strong calls -> threshold.
    share_thresholds: list[tuple[float, float]] = field(default_factory=list)
    feature_set: str = "v1"  # which features.FEATURE_SETS function the weights belong to

    @classmethod
    def load(cls, path: Path) -> ComplexityRouter:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the router model ({exc.strerror})") from None
        return cls.from_bytes(raw, str(path))

    @classmethod
    def load_default(cls) -> ComplexityRouter:
        raw = resources.files("tokenops.routing").joinpath("data", DEFAULT_MODEL).read_bytes()
        return cls.from_bytes(raw, DEFAULT_MODEL)

    @classmethod
    def from_bytes(cls, raw: bytes, name: str = "router") -> ComplexityRouter:
        try:
            doc = orjson.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"{name}: not a router model ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ConfigError(f"{name}: not a {FORMAT} file")
        feature_set = str(doc.get("feature_set", "v1"))
        if feature_set not in FEATURE_SETS:
            known = ", ".join(FEATURE_SETS)
            raise ConfigError(f"{name}: unknown feature set {feature_set!r} (this version knows {known})")
        return cls(
            weights={str(k): float(v) for k, v in doc["weights"].items()},
            bias=float(doc["bias"]),
            meta=dict(doc.get("meta", {})),
            trained_on=frozenset(doc.get("trained_on", ())),
            share_thresholds=[(float(s), float(t)) for s, t in doc.get("share_thresholds", ())],
            feature_set=feature_set,
        )

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "feature_set": self.feature_set,
            "bias": round(self.bias, 6),
            "weights": {k: round(v, 5) for k, v in sorted(self.weights.items())},
            "meta": self.meta,
            "share_thresholds": [[round(s, 4), round(t, 6)] for s, t in self.share_thresholds],
            "trained_on": sorted(self.trained_on),
        }
        return gzip.compress(orjson.dumps(doc), compresslevel=9, mtime=0)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())

    def margin(self, prompt: Prompt) -> float:
        weights = self.weights
        return self.bias + sum(weights.get(f, 0.0) for f in FEATURE_SETS[self.feature_set](prompt))

    def score_prompt(self, prompt: Prompt) -> float:
        z = self.margin(prompt)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def score(self, chat_body: Mapping[str, Any]) -> float:
        """Probability in [0, 1] that this chat request needs the strong model."""
        return self.score_prompt(prompt_of_chat(chat_body))

    def score_text(self, text: str) -> float:
        return self.score_prompt(prompt_of_text(text))

    @staticmethod
    def choose(score: float, threshold: float) -> Choice:
        return "strong" if score >= threshold else "weak"

    def threshold_for_share(self, share: float) -> float:
        """The threshold that sent about `share` of held-out calls to the strong model."""
        if not self.share_thresholds:
            raise ConfigError("this router model carries no threshold table")
        best = min(self.share_thresholds, key=lambda st: abs(st[0] - share))
        return best[1]

"""Cost-quality curves as `tokenops routing evaluate --out` writes them, read back to price a threshold.

The policy simulator asks: with this threshold, what share of calls goes strong and what share
of the strong model's quality is kept, for this kind of prompt? The answer is read off the
measured curve of that kind (or of all traffic, for a kind the evaluation did not see).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tokenops.errors import ConfigError

ALL = "(all)"


@dataclass(frozen=True, slots=True)
class Measured:
    strong: float  # the strong model's quality on the evaluated prompts
    points: tuple[tuple[float, float, float | None], ...]  # (strong share, quality, threshold), share rising

    def at_threshold(self, threshold: float) -> tuple[float, float]:
        """(strong share, quality as a share of the strong model's) when `score >= threshold` goes strong.

        Between measured points the nearer one with fewer strong calls is taken: the estimate never
        credits a threshold with quality it was not measured to reach.
        """
        share, quality, _ = self.points[0]
        for s, q, t in self.points[1:]:
            if t is not None and t >= threshold:
                share, quality = s, q
        return share, (quality / self.strong if self.strong else 1.0)


def _measured(report: Mapping[str, Any], where: str) -> Measured:
    try:
        points = tuple(
            (float(p["strong_share"]), float(p["quality"]), None if p["threshold"] is None else float(p["threshold"]))
            for p in report["curve"]
        )
        strong = float(report["strong_accuracy"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a routing evaluation report ({exc})") from None
    if not points:
        raise ConfigError(f"{where}: the curve is empty")
    return Measured(strong, tuple(sorted(points, key=lambda p: p[0])))


@dataclass(frozen=True, slots=True)
class Curves:
    """The measured curve of all traffic and of each kind of prompt."""

    by_kind: dict[str, Measured]

    @classmethod
    def load(cls, path: Path) -> Curves:
        try:
            report = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the routing curve ({exc.strerror})") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not JSON ({exc})") from None
        if not isinstance(report, dict):
            raise ConfigError(f"{path}: not a routing evaluation report")
        curves = {ALL: _measured(report, str(path))}
        for kind, sub in (report.get("kinds") or {}).items():
            curves[str(kind)] = _measured(sub, f"{path} (kind {kind})")
        return cls(curves)

    def quality(self, kind: str | None, threshold: float) -> float:
        """The share of the strong model's quality kept at `threshold` for this kind of prompt."""
        curve = self.by_kind.get(kind or ALL) or self.by_kind[ALL]
        return curve.at_threshold(threshold)[1]

"""Reading a measured cost-quality curve back: what a threshold sends strong and keeps of the strong quality."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tokenops.errors import ConfigError
from tokenops.routing import metrics
from tokenops.routing.curves import ALL, Curves
from tokenops.routing.dataset import Row
from tokenops.routing.evaluate import by_kind, kind_report

# weak right on 1 of 4 math prompts, the strong one on 3; chat prompts are all fine on the weak model
MATH = [Row(f"m{i}", w, s, "math") for i, (w, s) in enumerate([(1, 1), (0, 1), (0, 1), (0, 0)])]
CHAT = [Row(f"c{i}", 1, 1, "chat") for i in range(4)]
SCORES = [0.2, 0.9, 0.7, 0.1, 0.8, 0.6, 0.4, 0.3]


def _curves(tmp_path: Path) -> Curves:
    rows = MATH + CHAT
    report = {**kind_report(rows, SCORES), "kinds": by_kind(rows, SCORES)}
    path = tmp_path / "curve.json"
    path.write_bytes(orjson.dumps(report))
    return Curves.load(path)


def test_a_threshold_reads_the_share_and_quality_of_its_kind(tmp_path: Path) -> None:
    curves = _curves(tmp_path)
    # math: scores 0.9 and 0.7 are the two gains; at 0.7 both go strong, quality 0.75 = the strong model's
    assert curves.by_kind["math"].at_threshold(0.7) == (0.5, 1.0)
    assert curves.quality("math", 0.95) == pytest.approx(0.25 / 0.75)  # nothing strong: the weak model's quality
    assert curves.quality("chat", 0.95) == 1.0  # the weak model is as good here
    assert curves.quality("poetry", 0.7) == curves.by_kind[ALL].at_threshold(0.7)[1]  # unknown kind: all traffic


def test_operating_points_name_the_threshold_for_a_quality_or_a_share() -> None:
    report = kind_report(MATH, SCORES[:4], quality=0.95)
    point = report["operating_point"]
    assert point["reached"] and point["strong_share"] == 0.5 and point["threshold"] == 0.7
    capped = kind_report(MATH, SCORES[:4], strong_share=0.25)["operating_point"]
    assert capped["strong_share"] == 0.25 and capped["threshold"] == 0.9
    assert capped["quality_of_strong"] == pytest.approx(0.5 / 0.75, abs=1e-4)  # reports round to 4 places
    c = metrics.curve(SCORES[:4], [r.weak for r in MATH], [r.strong for r in MATH])
    assert c.quality_at_threshold(0.7).share == 0.5


def test_a_file_that_is_not_a_report_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"curve": []}')
    with pytest.raises(ConfigError):
        Curves.load(path)
    with pytest.raises(ConfigError):
        Curves.load(tmp_path / "missing.json")

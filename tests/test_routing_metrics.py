"""Cost-quality curve summaries on small cases computed by hand."""

from __future__ import annotations

import pytest

from tokenops.routing import metrics

# 4 prompts: weak right on 1, strong right on 3; gains where strong alone is right.
WEAK = [1.0, 0.0, 0.0, 0.0]
STRONG = [1.0, 1.0, 1.0, 0.0]


def test_oracle_routes_the_gains_first() -> None:
    c = metrics.oracle_curve(WEAK, STRONG)
    assert c.weak == 0.25 and c.strong == 0.75
    # two prompts gain: 2/4 strong calls close the whole gap
    assert metrics.cpt(c, 1.0) == pytest.approx(0.5)
    assert metrics.cpt(c, 0.5) == pytest.approx(0.25)
    # PGR rises 0 -> 1 over [0, 0.5], then stays 1: area 0.25 + 0.5
    assert metrics.apgr(c) == pytest.approx(0.75)
    # quality is 0.25 + share up to share 0.5, so 0.95 x 0.75 = 0.7125 needs share 0.4625
    assert metrics.savings_at(c) == pytest.approx(1 - 0.4625)


def test_perfect_inverse_router_is_below_the_diagonal() -> None:
    scores = [-(s - w) for w, s in zip(WEAK, STRONG, strict=True)]
    c = metrics.curve(scores, WEAK, STRONG)
    # the two useless prompts come first (tied: a straight line to share 0.5), then the gains
    assert metrics.cpt(c, 0.5) == pytest.approx(0.75)
    assert metrics.apgr(c) == pytest.approx(0.25)


def test_constant_scores_give_the_random_diagonal() -> None:
    c = metrics.curve([0.3] * 4, WEAK, STRONG)
    assert len(c.points) == 2
    assert metrics.summary(c) == pytest.approx(metrics.random_summary(0.25, 0.75))
    assert metrics.cpt(c, 0.8) == pytest.approx(0.8)
    assert metrics.apgr(c) == pytest.approx(0.5)


def test_random_summary_matches_the_analytic_diagonal() -> None:
    figures = metrics.random_summary(0.681, 0.806)
    assert figures["cpt50"] == 0.5 and figures["apgr"] == 0.5
    assert figures["savings_at_95pct_strong_accuracy"] == pytest.approx(1 - (0.95 * 0.806 - 0.681) / 0.125)


def test_weak_already_good_enough_saves_everything() -> None:
    c = metrics.curve([0.1, 0.2], [0.96, 0.96], [1.0, 1.0])
    assert metrics.savings_at(c) == 1.0
    assert metrics.random_summary(0.96, 1.0)["savings_at_95pct_strong_accuracy"] == 1.0


def test_no_gap_has_no_cpt_or_apgr() -> None:
    c = metrics.curve([0.1, 0.2], [1.0, 0.0], [1.0, 0.0])
    assert metrics.cpt(c, 0.5) is None and metrics.apgr(c) is None


def test_numeric_scores_use_means() -> None:
    c = metrics.curve([0.9, 0.1], [4.0, 8.0], [10.0, 8.0])
    assert c.weak == 6.0 and c.strong == 9.0
    assert c.quality_at(0.5) == 9.0  # the first prompt alone closes the gap
    assert metrics.cpt(c, 1.0) == pytest.approx(0.5)


def test_thresholds_follow_the_curve() -> None:
    c = metrics.curve([0.9, 0.5, 0.5, 0.1], WEAK, STRONG)
    assert c.threshold_at(0.0) is None
    assert c.threshold_at(0.25) == 0.9
    assert c.threshold_at(0.5) == 0.5  # the tied pair is routed together
    assert [p.share for p in c.points] == [0.0, 0.25, 0.75, 1.0]


def test_curve_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError):
        metrics.curve([], [], [])

"""The side-by-side report: per tenant and in total, the policy in force beside the candidate, and the verdict.

Expected quality is defined where the complexity router's estimate applies: for requests
that a complexity alias routes under either policy, the expected share answered as well as
the strong (or the requested) model would. A request sent to the weak model counts
1 - score (the router's score estimates the probability that the weak model fails where the
strong one succeeds); one served by the strong or the requested model counts 1; a refused one 0.
Given the cost-quality curves measured by `tokenops routing evaluate` (on the operator's labelled
traffic), a routed request counts instead what its kind of prompt keeps of the strong model's
quality at the policy's threshold, as measured.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tokenops.charging.money import UNIT_DIGITS, format_amount, round_half_up
from tokenops.policy.replay import Outcome
from tokenops.routing.curves import Curves

TOTAL = "(total)"


def _major(units: Decimal) -> str:
    """Exact accounting units in major units to six decimals, for amounts too small to show in cents."""
    return f"{units.scaleb(-UNIT_DIGITS):.{UNIT_DIGITS}f}"


def quality(o: Outcome, curves: Curves | None = None) -> float:
    if not o.served:
        return 0.0
    if curves is not None and o.choice is not None and o.threshold is not None:
        return curves.quality(o.prompt_kind, o.threshold)
    if o.choice == "weak" and o.score is not None:
        return 1.0 - o.score
    return 1.0


@dataclass(slots=True)
class Totals:
    requests: int = 0
    served: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    revenue: int = 0
    revenue_exact: Decimal = Decimal(0)
    quality_sum: float = 0.0
    quality_n: int = 0
    violating: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    breaches: Counter[str] = field(default_factory=Counter)

    def add(self, o: Outcome, rated: bool, curves: Curves | None = None) -> None:
        self.requests += 1
        if o.served:
            self.served += 1
            self.models[o.model or "?"] += 1
        else:
            self.refused[o.refused or "?"] += 1
        self.input_tokens += o.input_tokens
        self.output_tokens += o.output_tokens
        self.cost += o.cost
        self.revenue += o.revenue
        self.revenue_exact += o.revenue_exact
        if rated:
            self.quality_sum += quality(o, curves)
            self.quality_n += 1
        if o.violations:
            self.violating += 1
            for deployment, reason in o.violations:
                self.breaches[f"{deployment}: {reason}"] += 1

    @property
    def cost_units(self) -> int:
        return round_half_up(self.cost)

    def to_dict(self, currency: str) -> dict[str, Any]:
        cost = self.cost_units
        return {
            "requests": self.requests,
            "served": self.served,
            "refused": sum(self.refused.values()),
            "refused_by_reason": dict(self.refused),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": format_amount(cost, currency),
            "cost_exact": _major(self.cost),
            "revenue": format_amount(self.revenue, currency),
            "revenue_unrounded": format_amount(round_half_up(self.revenue_exact), currency),
            "margin": format_amount(self.revenue - cost, currency),
            "margin_exact": _major(self.revenue - self.cost),
            "margin_pct": round(100 * (self.revenue - cost) / self.revenue, 1) if self.revenue else None,
            "model_mix": {m: round(n / self.served, 4) for m, n in self.models.most_common()} if self.served else {},
            "model_requests": dict(self.models.most_common()),
            "quality_requests": self.quality_n,
            "expected_quality": round(self.quality_sum / self.quality_n, 4) if self.quality_n else None,
            "violations": self.violating,
            "violations_by_deployment": dict(self.breaches.most_common()),
        }


def tally(outcomes: list[Outcome], rated: list[bool], curves: Curves | None = None) -> dict[str, Totals]:
    sides: dict[str, Totals] = {TOTAL: Totals()}
    for o, r in zip(outcomes, rated, strict=True):
        sides.setdefault(o.tenant, Totals()).add(o, r, curves)
        sides[TOTAL].add(o, r, curves)
    return sides


@dataclass(slots=True)
class Report:
    currency: str
    baseline: dict[str, Totals]
    candidate: dict[str, Totals]
    findings: list[str]
    newly_refused: int
    output_sources: dict[str, int]
    exhaustion: dict[str, list[dict[str, Any]]]
    period_days: float
    max_cost_increase: float | None = None
    allow_refusals: bool = False

    @property
    def cost_change_pct(self) -> float | None:
        before, after = self.baseline[TOTAL].cost, self.candidate[TOTAL].cost
        return float((after - before) / before * 100) if before else None

    def checks(self) -> list[dict[str, Any]]:
        violations = self.candidate[TOTAL].violating
        change = self.cost_change_pct
        found = [
            {"check": "residency and isolation", "passed": violations == 0 and not self.findings,
             "detail": f"{violations} violating requests, {len(self.findings)} catalog findings"},
            {"check": "no newly refused requests", "passed": self.newly_refused == 0 or self.allow_refusals,
             "detail": f"{self.newly_refused} requests served in force would be refused"
             + (" (allowed)" if self.allow_refusals and self.newly_refused else "")},
        ]  # fmt: skip
        if self.max_cost_increase is not None:
            ok = change is None or change <= self.max_cost_increase
            shown = "n/a" if change is None else f"{change:+.1f}%"
            found.append({"check": "cost increase", "passed": ok,
                          "detail": f"cost {shown}, at most +{self.max_cost_increase:g}% allowed"})  # fmt: skip
        return found

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.checks())

    def to_dict(self) -> dict[str, Any]:
        tenants = [*sorted((set(self.baseline) | set(self.candidate)) - {TOTAL}), TOTAL]
        return {
            "currency": self.currency,
            "period_days": self.period_days,
            "output_tokens_from": self.output_sources,
            "tenants": {
                t: {
                    side: totals.get(t, Totals()).to_dict(self.currency)
                    for side, totals in (("baseline", self.baseline), ("candidate", self.candidate))
                }
                for t in tenants
            },
            "cost_change_pct": None if self.cost_change_pct is None else round(self.cost_change_pct, 2),
            "findings": self.findings,
            "newly_refused": self.newly_refused,
            "exhaustion": self.exhaustion,
            "checks": self.checks(),
            "passed": self.passed,
        }

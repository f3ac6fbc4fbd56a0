"""Simulate a candidate policy on recorded traffic beside the policy in force, offline."""

from __future__ import annotations

from collections import Counter

from tokenops.errors import ConfigError
from tokenops.gateway.route import Scorer
from tokenops.policy.burn import project
from tokenops.policy.constraints import findings
from tokenops.policy.replay import replay
from tokenops.policy.report import Report, tally
from tokenops.policy.side import Policy
from tokenops.policy.traffic import Request
from tokenops.routing.curves import Curves

DAY_MS = 86_400_000


def simulate(
    requests: list[Request],
    baseline: Policy,
    candidate: Policy,
    router: Scorer,
    *,
    period_days: float | None = None,
    max_cost_increase: float | None = None,
    allow_refusals: bool = False,
    curves: Curves | None = None,
) -> Report:
    """Replay every request through both policies; hard constraints are judged as the baseline holds them.

    With `curves` (measured by `tokenops routing evaluate`) expected quality is read off them per kind of prompt.
    """
    if not requests:
        raise ConfigError("no requests to replay: the traffic is empty")
    in_force = baseline.catalog
    before = [replay(baseline, in_force, r, router) for r in requests]
    after = [replay(candidate, in_force, r, router) for r in requests]
    rated = [b.choice is not None or a.choice is not None for b, a in zip(before, after, strict=True)]
    newly_refused = sum(1 for b, a in zip(before, after, strict=True) if b.served and not a.served)
    start, end = min(r.at_ms for r in requests), max(r.at_ms for r in requests)
    days = period_days or max((end - start) / DAY_MS, 1 / 1440)
    return Report(
        currency=candidate.currency,
        baseline=tally(before, rated, curves),
        candidate=tally(after, rated, curves),
        findings=findings(in_force, candidate.catalog),
        newly_refused=newly_refused,
        output_sources=dict(Counter(r.output_source for r in requests)),
        exhaustion={
            "baseline": project(baseline, before, days, end),
            "candidate": project(candidate, after, days, end),
        },
        period_days=round(days, 6),
        max_cost_increase=max_cost_increase,
        allow_refusals=allow_refusals,
    )

"""Service levels per tenant and period: availability, latency and time to first token against
the objectives of the tenant's class, per UTC day, with every breach listed.

Availability counts what the platform owes: 5xx answers (and 503 sheds) are failures; the
caller's own errors and refusals (400-429: bad input, no balance, its limits) and client
aborts are not held against it. Latency objectives apply to successful requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tokenops.periods import month_bounds
from tokenops.store import UsageRecord


@dataclass(frozen=True, slots=True)
class Objectives:
    availability: float  # fraction of requests served without a platform failure
    p50_latency_ms: float
    p99_latency_ms: float
    p50_ttft_ms: float
    p99_ttft_ms: float


# What each class of tenant is promised by default: government enclaves and enterprise
# agents get tight first-token times; consumer traffic is best effort at a lower availability.
OBJECTIVES: dict[str, Objectives] = {
    "government": Objectives(0.9995, 8_000, 30_000, 500, 2_000),
    "enterprise": Objectives(0.999, 8_000, 30_000, 700, 2_500),
    "consumer": Objectives(0.995, 5_000, 15_000, 1_000, 4_000),
}


@dataclass(slots=True)
class Window:
    label: str
    served: int = 0
    failed: int = 0
    latency: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)

    def add(self, r: UsageRecord) -> None:
        if r.outcome == "client_aborted" or 400 <= r.status < 500:
            return
        if r.status >= 500:
            self.failed += 1
            return
        self.served += 1
        self.latency.append(r.latency_ms)
        if r.ttft_ms is not None:
            self.ttft.append(r.ttft_ms)

    def figures(self) -> dict[str, float | None]:
        total = self.served + self.failed
        return {
            "availability": round(self.served / total, 6) if total else None,
            "p50_latency_ms": _pct(self.latency, 0.50),
            "p99_latency_ms": _pct(self.latency, 0.99),
            "p50_ttft_ms": _pct(self.ttft, 0.50),
            "p99_ttft_ms": _pct(self.ttft, 0.99),
        }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def breaches_of(label: str, figures: dict[str, float | None], goal: Objectives) -> list[dict[str, Any]]:
    found = []
    for metric, value in figures.items():
        target = getattr(goal, metric)
        if value is None:
            continue
        missed = value < target if metric == "availability" else value > target
        if missed:
            found.append({"window": label, "metric": metric, "value": value, "objective": target})
    return found


def report(tenant: str, kind: str, period: str, records: Iterable[UsageRecord]) -> dict[str, Any]:
    goal = OBJECTIVES.get(kind, OBJECTIVES["enterprise"])
    since, until = month_bounds(period)
    whole = Window(period)
    days: dict[str, Window] = defaultdict(lambda: Window(""))
    requests = 0
    for r in records:
        if r.tenant_id != tenant or not since <= r.created_ms < until:
            continue
        requests += 1
        whole.add(r)
        day = datetime.fromtimestamp(r.created_ms / 1000, UTC).strftime("%Y-%m-%d")
        days[day].add(r)
    breaches = breaches_of(period, whole.figures(), goal)
    daily = []
    for day in sorted(days):
        figures = days[day].figures()
        daily.append({"day": day, "served": days[day].served, "failed": days[day].failed, **figures})
        breaches += breaches_of(day, figures, goal)
    return {
        "tenant": tenant, "kind": kind, "period": period, "requests": requests,
        "served": whole.served, "failed": whole.failed, "objectives": _goal(goal),
        "figures": whole.figures(), "days": daily, "breaches": breaches, "met": not breaches,
    }  # fmt: skip


def _goal(goal: Objectives) -> dict[str, float]:
    return {name: getattr(goal, name) for name in Objectives.__slots__}

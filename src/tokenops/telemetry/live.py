"""Live aggregates for the dashboard, fed by each settled request: per-second buckets of the
last ten minutes, recent latency samples per deployment, and running totals since start.

Everything is keyed by tenant first, so a tenant admin's view is a filter, never a leak.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from tokenops.store import UsageRecord
from tokenops.telemetry.pricing import Money

WINDOW_S = 600
SAMPLES = 1000


@dataclass(slots=True)
class Totals:
    requests: int = 0
    errors: int = 0  # status >= 500
    refused: int = 0  # 402, 403, 429
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    rated: int = 0
    cost: int = 0

    def add(self, r: UsageRecord, money: Money | None) -> None:
        self.requests += 1
        if r.status >= 500:
            self.errors += 1
        elif r.status in (402, 403, 429):
            self.refused += 1
        self.input_tokens += r.input_tokens
        self.output_tokens += r.output_tokens
        self.cached_tokens += r.cached_tokens
        if money is not None:
            self.rated += money.rated
            self.cost += money.cost


@dataclass(slots=True)
class Second:
    at: int
    by: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (tenant, model) -> in, out, req, err


@dataclass(slots=True)
class Samples:
    latency: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    ttft: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))


class LiveStats:
    def __init__(self) -> None:
        self.started = time.time()
        self.seconds: deque[Second] = deque(maxlen=WINDOW_S)
        self.totals: dict[tuple[str, str], Totals] = defaultdict(Totals)  # (tenant, model)
        self.deployments: dict[tuple[str, str], Totals] = defaultdict(Totals)  # (tenant, deployment)
        self.samples: dict[tuple[str, str], Samples] = defaultdict(Samples)  # (tenant, deployment)
        self.regions: dict[tuple[str, str], int] = defaultdict(int)  # (tenant, region)
        self.routes: dict[tuple[str, str, str], int] = defaultdict(int)  # (tenant, requested, served)
        self.busy: deque[dict[str, int]] = deque(maxlen=60)  # in flight per deployment, sampled each second

    def _second(self, now: float) -> Second:
        at = int(now)
        if not self.seconds or self.seconds[-1].at != at:
            self.seconds.append(Second(at))
        return self.seconds[-1]

    def observe(self, r: UsageRecord, money: Money | None, now: float | None = None) -> None:
        model = r.model_served or r.model_requested or "none"
        row = self._second(time.time() if now is None else now).by.setdefault((r.tenant_id, model), [0, 0, 0, 0])
        row[0] += r.input_tokens
        row[1] += r.output_tokens
        row[2] += 1
        if r.status >= 500:
            row[3] += 1
        self.totals[(r.tenant_id, model)].add(r, money)
        if r.deployment_id is not None:
            self.deployments[(r.tenant_id, r.deployment_id)].add(r, money)
            if r.status < 400:
                found = self.samples[(r.tenant_id, r.deployment_id)]
                found.latency.append(r.latency_ms)
                if r.ttft_ms is not None:
                    found.ttft.append(r.ttft_ms)
            self.regions[(r.tenant_id, r.region or "none")] += 1
            self.routes[(r.tenant_id, r.model_requested, model)] += 1

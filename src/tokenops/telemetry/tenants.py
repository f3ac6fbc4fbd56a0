"""Which tenants get series of their own in /metrics: the busiest N, the rest summed under "other".

An operator with 37,000 tenants cannot scrape a series set per tenant (a balance and a package
gauge each were 76,000 series). By default the N tenants with the most tokens settled in this
process are labelled by name; every other tenant's traffic counts under `tenant="other"`. The
ranking is taken again every few seconds; a tenant that leaves the top N has its counters folded
into "other" (which only ever grows, so every series stays a valid counter) and one that enters
gets series of its own from then on. `TOKENOPS_METRICS_PER_TENANT=1` labels every tenant instead.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

OTHER = "other"


class TenantLabels:
    def __init__(self, top: int = 100, every_tenant: bool = False, rank_every_s: float = 5.0) -> None:
        self.top = top
        self.every_tenant = every_tenant
        self.rank_every_s = rank_every_s
        self.weights: dict[str, int] = {}  # tokens settled per tenant since start (one int per active tenant)
        self.named: set[str] = set()
        self._next_rank = 0.0
        self.on_dropped: list[Callable[[set[str]], None]] = []  # told which tenants lost their own series

    def label(self, tenant: str, tokens: int) -> str:
        """The tenant label of a settled request, weighing the tenant by its tokens (and one per request)."""
        if self.every_tenant:
            return tenant
        self.weights[tenant] = self.weights.get(tenant, 0) + tokens + 1
        if tenant not in self.named and len(self.named) < self.top:
            self.named.add(tenant)
        now = time.monotonic()
        if now >= self._next_rank:
            self._next_rank = now + self.rank_every_s
            self.rank()
        return tenant if tenant in self.named else OTHER

    def rank(self) -> None:
        """Take the top N again; tell the families which tenants dropped out, to fold their series."""
        if len(self.weights) <= self.top:
            return
        best = {t for t, _ in heapq.nlargest(self.top, self.weights.items(), key=lambda kv: kv[1])}
        dropped = self.named - best
        self.named = best
        if dropped:
            for fold in self.on_dropped:
                fold(dropped)

    def shown(self, tenant: str) -> bool:
        return self.every_tenant or tenant in self.named

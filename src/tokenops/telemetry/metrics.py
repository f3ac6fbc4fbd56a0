"""The gateway's Prometheus metrics: fed once per settled request, gauges read at scrape time."""

from __future__ import annotations

from collections.abc import Iterable

from tokenops.store import UsageRecord
from tokenops.telemetry.config import TelemetryConfig
from tokenops.telemetry.pricing import Money
from tokenops.telemetry.prom import OTHER, Counter, Histogram, Key, gauge
from tokenops.telemetry.source import Source
from tokenops.telemetry.tenants import TenantLabels

SECONDS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CIRCUIT_STATES = ("closed", "half_open", "open")


# Each family's share of the exposition's lines (`TelemetryConfig.max_series`); the gauges per deployment
# (five lines each) and the tenant gauges (top N and "other") take what is left.
SHARES = {"requests": 0.12, "tokens": 0.12, "rated": 0.05, "cost": 0.05, "rejections": 0.03, "extraction": 0.02,
          "latency": 0.10, "ttft": 0.08}  # fmt: skip


class Metrics:
    def __init__(self, config: TelemetryConfig | None = None) -> None:
        config = config or TelemetryConfig()
        self.per_key = config.per_key_metrics
        self.tenants = TenantLabels(config.top_tenants, config.per_tenant_metrics)
        self.per_deployment = config.per_deployment_histograms

        def cap(family: str, lines: int = 1) -> int:
            return max(1, int(config.max_series * SHARES[family]) // lines)

        base = ("tenant", "model", "deployment", "region")
        keyed = ("key",) if self.per_key else ()
        self.requests = Counter(
            "tokenops_requests", "Requests settled, by outcome and HTTP status.", (*base, *keyed, "status", "outcome"),
            cap("requests"))  # fmt: skip
        self.tokens = Counter("tokenops_tokens", "Tokens metered, by direction (input, output, cached).",
                              (*base, *keyed, "direction"), cap("tokens"))  # fmt: skip
        self.rated = Counter("tokenops_rated_units", "Usage rated at list price, in millionths of the currency unit.",
                             ("tenant", "model", "currency"), cap("rated"))  # fmt: skip
        self.cost = Counter("tokenops_upstream_cost_units", "Upstream cost of the usage, in millionths of the unit.",
                            ("tenant", "model", "deployment", "currency"), cap("cost"))  # fmt: skip
        self.rejections = Counter("tokenops_rejections", "Requests refused by limits, balance or capacity.",
                                  ("tenant", "status", "reason"), cap("rejections"))  # fmt: skip
        where = ("model", "deployment") if self.per_deployment else ("model",)
        self.latency = Histogram("tokenops_request_duration_seconds", "Time from request to last byte.",
                                 where, SECONDS, cap("latency", len(SECONDS) + 3))  # fmt: skip
        self.ttft = Histogram("tokenops_time_to_first_token_seconds", "Time from request to the first token.",
                              where, TTFT_SECONDS, cap("ttft", len(TTFT_SECONDS) + 3))  # fmt: skip
        self.extraction = Counter("tokenops_extraction_events", "Bulk-extraction detector events seen in the store.",
                                  ("tenant", "detector", "action"), cap("extraction"))  # fmt: skip
        self.tenants.on_dropped.append(self._fold)

    def _fold(self, tenants: set[str]) -> None:
        for family in (self.requests, self.tokens, self.rated, self.cost, self.rejections, self.extraction):
            family.fold(0, tenants)

    def tenant(self, tenant: str) -> str:
        """The tenant label of an event that carries no tokens (a detector's)."""
        return tenant if self.tenants.shown(tenant) else OTHER

    def observe(self, r: UsageRecord, money: Money | None) -> None:
        model = r.model_served or r.model_requested or "none"
        dep = r.deployment_id or "none"
        tenant = self.tenants.label(r.tenant_id, r.input_tokens + r.output_tokens)
        base: tuple[str, ...] = (tenant, model, dep, r.region or "none")
        if self.per_key:
            base = (*base, r.key_id)
        self.requests.inc((*base, str(r.status), r.outcome))
        if r.input_tokens:
            self.tokens.inc((*base, "input"), r.input_tokens)
        if r.output_tokens:
            self.tokens.inc((*base, "output"), r.output_tokens)
        if r.cached_tokens:
            self.tokens.inc((*base, "cached"), r.cached_tokens)
        if money is not None:
            self.rated.inc((tenant, model, money.currency), money.rated)
            self.cost.inc((tenant, model, dep, money.currency), money.cost)
        if r.status in (402, 429, 503):
            self.rejections.inc((tenant, str(r.status), r.error_code or "unknown"))
        if r.deployment_id is not None and r.status < 500:
            where = (model, dep) if self.per_deployment else (model,)
            self.latency.observe(where, r.latency_ms / 1000)
            if r.ttft_ms is not None:
                self.ttft.observe(where, r.ttft_ms / 1000)

    def render(self, source: Source | None) -> str:
        parts = [f.render() for f in (self.requests, self.tokens, self.rated, self.cost, self.rejections,
                                      self.latency, self.ttft, self.extraction)]  # fmt: skip
        if source is not None:
            parts.append(_gauges(source, self.tenants))
        return "".join(parts)


def _top(values: Iterable[tuple[str, int]], shown: TenantLabels) -> list[tuple[Key, float]]:
    """Per-tenant samples: every tenant when there are no more than the top N, else the tenants with series of
    their own and one "other" summing the rest."""
    per: dict[str, int] = {}
    for tenant, value in values:
        per[tenant] = per.get(tenant, 0) + value
    if shown.every_tenant or len(per) <= shown.top:
        return [((t,), v) for t, v in sorted(per.items())]
    samples: list[tuple[Key, float]] = [((t,), v) for t, v in sorted(per.items()) if shown.shown(t)]
    return [*samples, ((OTHER,), sum(v for t, v in per.items() if not shown.shown(t)))]


def _gauges(s: Source, shown: TenantLabels) -> str:
    deployments = sorted(s.catalog.deployments.values(), key=lambda d: d.id)
    capacity = s.guard.config.capacity
    holds = list(s.charging.credit.holds.values())
    accounts = s.charging.credit.accounts.values()
    currency = s.charging.config.currency
    return "".join((
        gauge("tokenops_in_flight_requests", "Requests in flight in this process.", (), [((), s.in_flight)]),
        gauge("tokenops_deployment_in_flight", "Requests in flight per deployment.", ("deployment",),
              [((d.id,), s.health.busy(d.id)) for d in deployments]),
        gauge("tokenops_deployment_capacity", "Concurrent requests a deployment takes (0: unbounded).",
              ("deployment",), [((d.id,), capacity.get(d.id, d.capacity)) for d in deployments]),
        gauge("tokenops_circuit_state", "Circuit breaker state per deployment (1 for the current state).",
              ("deployment", "state"),
              [((d.id, st), 1.0 if s.health.state(d.id) == st else 0.0) for d in deployments for st in CIRCUIT_STATES]),
        gauge("tokenops_open_reservations", "Credit reservations open, per tenant (top tenants, then other).",
              ("tenant",), _top(((h.tenant, 1) for h in holds), shown)),
        gauge("tokenops_reserved_units", "Money held by open reservations, in millionths of the unit.", ("tenant",),
              _top(((h.tenant, h.money) for h in holds), shown)),
        gauge("tokenops_accounts", "Accounts held by this process.", (), [((), len(s.charging.credit.accounts))]),
        gauge("tokenops_balance_units", "Settled account balance, in millionths of a unit (top tenants, then the "
              "sum of the others).", ("account", "currency"),
              [((k[0], currency), v) for k, v in _top(((a.id, a.balance) for a in accounts), shown)]),
        gauge("tokenops_package_tokens_remaining", "Package tokens left per account (top tenants, then the others).",
              ("account",), _top(((a.id, a.package_tokens()) for a in accounts), shown)),
    ))  # fmt: skip

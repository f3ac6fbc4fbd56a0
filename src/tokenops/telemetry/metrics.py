"""The gateway's Prometheus metrics: fed once per settled request, gauges read at scrape time."""

from __future__ import annotations

from collections import Counter as Tally

from tokenops.store import UsageRecord
from tokenops.telemetry.pricing import Money
from tokenops.telemetry.prom import Counter, Histogram, gauge
from tokenops.telemetry.source import Source

SECONDS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CIRCUIT_STATES = ("closed", "half_open", "open")


class Metrics:
    def __init__(self, per_key: bool = False, max_series: int = 10_000) -> None:
        self.per_key = per_key
        base = ("tenant", "model", "deployment", "region")
        keyed = ("key",) if per_key else ()
        self.requests = Counter(
            "tokenops_requests", "Requests settled, by outcome and HTTP status.", (*base, *keyed, "status", "outcome"),
            max_series)  # fmt: skip
        self.tokens = Counter("tokenops_tokens", "Tokens metered, by direction (input, output, cached).",
                              (*base, *keyed, "direction"), max_series)  # fmt: skip
        self.rated = Counter("tokenops_rated_units", "Usage rated at list price, in millionths of the currency unit.",
                             ("tenant", "model", "currency"), max_series)  # fmt: skip
        self.cost = Counter("tokenops_upstream_cost_units", "Upstream cost of the usage, in millionths of the unit.",
                            ("tenant", "model", "deployment", "currency"), max_series)  # fmt: skip
        self.rejections = Counter("tokenops_rejections", "Requests refused by limits, balance or capacity.",
                                  ("tenant", "status", "reason"), max_series)  # fmt: skip
        self.latency = Histogram("tokenops_request_duration_seconds", "Time from request to last byte.",
                                 ("model", "deployment"), SECONDS, max_series)  # fmt: skip
        self.ttft = Histogram("tokenops_time_to_first_token_seconds", "Time from request to the first token.",
                              ("model", "deployment"), TTFT_SECONDS, max_series)  # fmt: skip
        self.extraction = Counter("tokenops_extraction_events", "Bulk-extraction detector events seen in the store.",
                                  ("tenant", "detector", "action"), max_series)  # fmt: skip

    def observe(self, r: UsageRecord, money: Money | None) -> None:
        model = r.model_served or r.model_requested or "none"
        dep = r.deployment_id or "none"
        base: tuple[str, ...] = (r.tenant_id, model, dep, r.region or "none")
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
            self.rated.inc((r.tenant_id, model, money.currency), money.rated)
            self.cost.inc((r.tenant_id, model, dep, money.currency), money.cost)
        if r.status in (402, 429, 503):
            self.rejections.inc((r.tenant_id, str(r.status), r.error_code or "unknown"))
        if r.deployment_id is not None and r.status < 500:
            self.latency.observe((model, dep), r.latency_ms / 1000)
            if r.ttft_ms is not None:
                self.ttft.observe((model, dep), r.ttft_ms / 1000)

    def render(self, source: Source | None) -> str:
        parts = [f.render() for f in (self.requests, self.tokens, self.rated, self.cost, self.rejections,
                                      self.latency, self.ttft, self.extraction)]  # fmt: skip
        if source is not None:
            parts.append(_gauges(source))
        return "".join(parts)


def _gauges(s: Source) -> str:
    deployments = sorted(s.catalog.deployments.values(), key=lambda d: d.id)
    capacity = s.guard.config.capacity
    holds = list(s.charging.credit.holds.values())
    open_count = Tally(h.tenant for h in holds)
    open_money = Tally[str]()
    for h in holds:
        open_money[h.tenant] += h.money
    accounts = s.charging.credit.accounts
    return "".join((
        gauge("tokenops_in_flight_requests", "Requests in flight in this process.", (), [((), s.in_flight)]),
        gauge("tokenops_deployment_in_flight", "Requests in flight per deployment.", ("deployment",),
              [((d.id,), s.health.busy(d.id)) for d in deployments]),
        gauge("tokenops_deployment_capacity", "Concurrent requests a deployment takes (0: unbounded).",
              ("deployment",), [((d.id,), capacity.get(d.id, d.capacity)) for d in deployments]),
        gauge("tokenops_circuit_state", "Circuit breaker state per deployment (1 for the current state).",
              ("deployment", "state"),
              [((d.id, st), 1.0 if s.health.state(d.id) == st else 0.0) for d in deployments for st in CIRCUIT_STATES]),
        gauge("tokenops_open_reservations", "Credit reservations open, per tenant.", ("tenant",),
              sorted(((t,), n) for t, n in open_count.items())),
        gauge("tokenops_reserved_units", "Money held by open reservations, in millionths of the unit.", ("tenant",),
              sorted(((t,), n) for t, n in open_money.items())),
        gauge("tokenops_balance_units", "Settled account balance, in millionths of a unit.", ("account", "currency"),
              sorted(((a.id, a.currency), a.balance) for a in accounts.values())),
        gauge("tokenops_package_tokens_remaining", "Package tokens left per account.", ("account",),
              sorted(((a.id,), a.package_tokens()) for a in accounts.values())),
    ))  # fmt: skip

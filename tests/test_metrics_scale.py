"""/metrics at operator scale: 37,000 tenants with traffic on 448 deployments stay under 10,000 series."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bench.scale.catalog import operator_catalog
from prometheus_client.parser import text_string_to_metric_families

from tokenops.catalog import Catalog, parse_catalog
from tokenops.charging.accounts import Account
from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.health import Health
from tokenops.security import Guard
from tokenops.store import SQLiteStore, UsageRecord
from tokenops.telemetry.config import TelemetryConfig
from tokenops.telemetry.metrics import Metrics
from tokenops.telemetry.tenants import TenantLabels

TENANTS = 37_000


@dataclass
class Running:
    """What a running gateway shows telemetry (the `Source` protocol), from real parts."""

    catalog: Catalog
    charging: ChargingService
    health: Health = field(default_factory=Health)
    guard: Guard = field(default_factory=Guard)
    in_flight: int = 0


def _source() -> Running:
    spec = parse_catalog(operator_catalog(10))  # the models and deployments; the tenants' accounts come below
    catalog = Catalog(spec.tenants, {}, spec.models, spec.deployments, spec.aliases)
    charging = ChargingService(ChargingSQLite(SQLiteStore(":memory:")))
    charging.credit.accounts = {f"t{i:05d}": Account(f"t{i:05d}", "prepaid", "CNY", 0, 10_000 + i)
                                for i in range(TENANTS)}  # fmt: skip
    return Running(catalog, charging)


def _record(i: int, tenant: str, deployment: str, model: str, status: int = 200) -> UsageRecord:
    return UsageRecord(f"r{i}", 0, tenant, "k", "chat.completions", model, status, "ok", model_served=model,
                       deployment_id=deployment, region="cn-north", input_tokens=100, output_tokens=50,
                       latency_ms=120.0, ttft_ms=30.0)  # fmt: skip


def test_metrics_of_37000_tenants_on_448_deployments_stay_under_10000_series() -> None:
    source = _source()
    deployments = list(source.catalog.deployments.values())
    metrics = Metrics(TelemetryConfig())
    rng = random.Random(7)
    for i in range(60_000):
        dep = deployments[rng.randrange(len(deployments))]
        status = 429 if i % 50 == 0 else 200
        metrics.observe(_record(i, f"t{rng.randrange(TENANTS):05d}", dep.id, dep.model, status), None)
    text = metrics.render(source)
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(series) <= 10_000, len(series)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    balances = families["tokenops_balance_units"].samples
    assert len(balances) <= 101 and balances[-1].labels["account"] == "other"
    assert sum(s.value for s in balances) == sum(10_000 + i for i in range(TENANTS))  # the others summed, not lost
    requests = families["tokenops_requests"].samples
    assert sum(s.value for s in requests) == 60_000  # every request counted, under its tenant or "other"


def test_a_tenant_that_leaves_the_top_n_folds_its_counts_into_other() -> None:
    config = TelemetryConfig(top_tenants=2)
    metrics = Metrics(config)
    metrics.tenants.rank_every_s = 3600  # ranked below by hand
    metrics.observe(_record(1, "small", "d", "m"), None)
    metrics.observe(_record(2, "big", "d", "m"), None)
    metrics.observe(_record(3, "big", "d", "m"), None)
    for i in range(5):
        metrics.observe(_record(10 + i, "bigger", "d", "m"), None)
    assert "bigger" not in metrics.tenants.named  # both places were taken first
    metrics.tenants.rank()
    assert metrics.tenants.named == {"bigger", "big"}
    counts = {key[0]: value for key, value in metrics.requests.values.items()}
    assert counts == {"big": 2, "other": 6}  # small's one request and bigger's five before it was ranked in
    metrics.observe(_record(20, "bigger", "d", "m"), None)
    counts = {key[0]: value for key, value in metrics.requests.values.items()}
    assert counts == {"big": 2, "other": 6, "bigger": 1}


def test_every_tenant_gets_its_own_series_when_asked() -> None:
    labels = TenantLabels(top=1, every_tenant=True)
    assert [labels.label(t, 10) for t in ("a", "b", "c")] == ["a", "b", "c"]

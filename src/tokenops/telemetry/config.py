"""What telemetry does, from the environment: request log, per-key series, trace export."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    request_log: str = "off"  # "off", "stderr", "stdout" or a file path: one JSON line per request
    per_key_metrics: bool = False  # a key label on request and token series (cardinality: one per key)
    max_series: int = 10_000  # the whole exposition's lines, shared out between the families (see `Metrics`)
    top_tenants: int = 100  # tenants with series of their own; the rest are summed under tenant="other"
    per_tenant_metrics: bool = False  # every tenant its own series (cardinality: one set per tenant)
    per_deployment_histograms: bool = False  # latency histograms per deployment as well as per model
    otlp_endpoint: str | None = None  # e.g. http://collector:4318 — traces are exported only when set
    service_name: str = "tokenops"

    @classmethod
    def from_env(cls) -> TelemetryConfig:
        env = os.environ
        return cls(
            request_log=env.get("TOKENOPS_REQUEST_LOG", "off"),
            per_key_metrics=env.get("TOKENOPS_METRICS_PER_KEY", "") in ("1", "true", "yes"),
            max_series=int(env.get("TOKENOPS_METRICS_MAX_SERIES", "10000")),
            top_tenants=int(env.get("TOKENOPS_METRICS_TENANTS", "100")),
            per_tenant_metrics=env.get("TOKENOPS_METRICS_PER_TENANT", "") in ("1", "true", "yes"),
            per_deployment_histograms=env.get("TOKENOPS_METRICS_PER_DEPLOYMENT", "") in ("1", "true", "yes"),
            otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name=env.get("OTEL_SERVICE_NAME", "tokenops"),
        )

"""/metrics, read by the Prometheus client's own parser after real traffic through the gateway."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import openai
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateway
from tokenops.store import UsageRecord
from tokenops.telemetry.config import TelemetryConfig
from tokenops.telemetry.metrics import Metrics


def scrape(gw: Gateway) -> dict[str, Any]:
    scrape_request = urllib.request.Request(gw.url + "/metrics", headers={"Authorization": "Bearer adm-demo-operator"})
    with urllib.request.urlopen(scrape_request) as resp:
        assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(family: Any, sample_name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in family.samples
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_requests_tokens_money_and_latency_by_tenant_model_and_deployment(gateway: Gateway) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-demo-acme", max_retries=0) as client:
        replies = [
            client.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": f"alarm {i}"}])
            for i in range(3)
        ]
    families = scrape(gateway)
    requests = families["tokenops_requests"]
    assert requests.type == "counter"
    ok = value(requests, "tokenops_requests_total", tenant="acme-manufacturing", model="tele-lite", status="200")
    assert ok == 3
    assert {s.labels["deployment"] for s in requests.samples} <= {"lite-east-1", "lite-north-1"}
    assert {s.labels["region"] for s in requests.samples} <= {"cn-east", "cn-north"}
    out = sum(r.usage.completion_tokens for r in replies if r.usage)
    tokens = families["tokenops_tokens"]
    assert value(tokens, "tokenops_tokens_total", tenant="acme-manufacturing", direction="output") == out
    assert value(families["tokenops_rated_units"], "tokenops_rated_units_total", currency="CNY") >= 0
    latency = families["tokenops_request_duration_seconds"]
    assert latency.type == "histogram"
    assert value(latency, "tokenops_request_duration_seconds_count", model="tele-lite") == 3
    assert value(latency, "tokenops_request_duration_seconds_bucket", model="tele-lite", le="+Inf") == 3
    assert "key" not in requests.samples[0].labels  # per-key series are off by default


def test_metrics_show_limiter_rejections_by_reason_and_deployment_state(gateway: Gateway) -> None:
    refused = 0
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-demo-consumer", max_retries=0) as client:
        for _ in range(22):  # the demo limits each ringback end user to 20 requests a minute
            try:
                client.chat.completions.create(model="lite", messages=[{"role": "user", "content": "hi"}], user="u-1")
            except openai.RateLimitError:
                refused += 1
    assert refused >= 1
    families = scrape(gateway)
    rejections = families["tokenops_rejections"]
    assert value(rejections, "tokenops_rejections_total", tenant="ringback-app", status="429") == refused
    assert {s.labels["reason"] for s in rejections.samples} == {"rate_limit_rpm"}
    circuit = families["tokenops_circuit_state"]
    assert value(circuit, "tokenops_circuit_state", deployment="max-north-1", state="closed") == 1
    assert value(circuit, "tokenops_circuit_state", deployment="max-north-1", state="open") == 0
    assert "tokenops_open_reservations" in families and "tokenops_deployment_capacity" in families
    assert value(families["tokenops_balance_units"], "tokenops_balance_units", account="ringback-app") > 0


def test_metrics_fold_label_sets_past_the_series_cap_into_other() -> None:
    metrics = Metrics(TelemetryConfig(max_series=20))  # the requests family's share: 2 label sets
    for tenant in ("a", "b", "c", "d"):
        metrics.observe(UsageRecord(f"r-{tenant}", 0, tenant, "k", "chat.completions", "m", 200, "ok"), None)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render(None))}
    tenants = [s.labels["tenant"] for s in families["tokenops_requests"].samples]
    assert tenants == ["a", "b", "other"]
    assert value(families["tokenops_requests"], "tokenops_requests_total", tenant="other") == 2


def test_observing_a_request_costs_microseconds() -> None:
    metrics = Metrics()
    record = UsageRecord("r", 0, "acme", "k", "chat.completions", "tele-lite", 200, "ok", model_served="tele-lite",
                         deployment_id="lite-east-1", region="cn-east", input_tokens=120, output_tokens=40,
                         latency_ms=180.0, ttft_ms=40.0)  # fmt: skip
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        metrics.observe(record, None)
    per_request_us = (time.perf_counter() - start) / n * 1e6
    print(f"metrics observe: {per_request_us:.2f} us per request")
    assert per_request_us < 50  # generous for a shared 2-core machine; a few us measured


def _get(gw: Gateway, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(gw.url + path, headers=headers)) as resp:
            return resp.status, {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_metrics_need_an_operator_token(gateway: Gateway) -> None:
    status, body = _get(gateway, "/metrics", None)
    assert status == 401 and body["error"]["code"] == "invalid_admin_token"
    status, body = _get(gateway, "/metrics", "sk-demo-acme")
    assert status == 401
    status, body = _get(gateway, "/metrics", "adm-demo-acme")  # a tenant admin sees no other tenant's figures
    assert status == 403 and body["error"]["code"] == "operator_only"
    assert _get(gateway, "/metrics", "adm-demo-operator")[0] == 200

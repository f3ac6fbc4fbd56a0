"""The compliance report proves from the usage records where a tenant was served."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import openai

from tests.conftest import Gateway, demo_catalog
from tokenops.catalog import parse_catalog
from tokenops.catalog.model import Catalog
from tokenops.compliance import build_report
from tokenops.periods import month_bounds, month_of
from tokenops.store import UsageRecord


def tokenops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenops", *args], capture_output=True, text=True, timeout=60)


def test_report_shows_a_dedicated_tenant_served_only_in_region_and_pool(gateway: Gateway) -> None:
    api = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-demo-gov", max_retries=0)
    for model in ("grid-fault-expert", "tele-lite", "grid-fault-expert"):
        api.chat.completions.create(model=model, messages=[{"role": "user", "content": "status of line 4"}])
    period = month_of(int(time.time() * 1000))
    result = tokenops("compliance", "report", "--tenant", "cn-gov-energy", "--period", period, "--json",
                      "--home", str(gateway.home))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["compliant"] is True and report["served"] == 3
    assert report["by_region"] == {"cn-north": 3} and report["by_pool"] == {"dedicated": 3}
    assert report["out_of_residency"] == [] and report["cross_pool"] == []
    assert {d["deployment"] for d in report["by_deployment"]} == {"gov-grid-north-1", "gov-lite-north-1"}
    assert "No prompt or completion content is stored" in report["content_policy"]["statement"]
    printable = tokenops("compliance", "report", "--tenant", "cn-gov-energy", "--period", period,
                         "--home", str(gateway.home))  # fmt: skip
    assert "COMPLIANT" in printable.stdout and "gov-grid-north-1" in printable.stdout


def test_report_defaults_to_this_month_and_says_so_when_there_is_nothing_to_judge(gateway: Gateway) -> None:
    api = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-demo-gov", max_retries=0)
    api.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": "status of line 4"}])
    this_month = tokenops("compliance", "report", "--tenant", "cn-gov-energy", "--json", "--home", str(gateway.home))
    assert this_month.returncode == 0, this_month.stderr
    assert json.loads(this_month.stdout)["period"] == month_of(int(time.time() * 1000))
    assert json.loads(this_month.stdout)["requests"] == 1
    empty = tokenops("compliance", "report", "--tenant", "cn-gov-energy", "--period", "2001-01",
                     "--home", str(gateway.home))  # fmt: skip
    assert "no requests in 2001-01" in empty.stdout and "COMPLIANT" not in empty.stdout


def _catalog() -> Catalog:
    spec = parse_catalog(demo_catalog())
    return Catalog(spec.tenants, {}, spec.models, spec.deployments, spec.aliases)


def _record(rid: str, deployment: str, region: str) -> UsageRecord:
    return UsageRecord(rid, month_bounds("2026-11")[0] + 1, "cn-gov-energy", "k", "chat.completions", "tele-lite",
                       200, "ok", deployment_id=deployment, region=region)  # fmt: skip


def test_report_lists_each_violation_by_request_id() -> None:
    records = [
        _record("r1", "gov-lite-north-1", "cn-north"),
        _record("r2", "lite-east-1", "cn-east"),  # shared pool, out of region: two violations
        _record("r3", "lite-north-1", "cn-north"),  # shared pool, in region: one violation
    ]
    report = build_report(_catalog(), "cn-gov-energy", "2026-11", records)
    assert not report.compliant
    assert [v["request_id"] for v in report.out_of_residency] == ["r2"]
    assert [v["request_id"] for v in report.cross_pool] == ["r2", "r3"]


def test_month_bounds_are_calendar_months_in_utc() -> None:
    start, end = month_bounds("2026-12")
    assert month_of(start) == "2026-12" and month_of(end) == "2027-01" and month_of(end - 1) == "2026-12"

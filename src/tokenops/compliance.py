"""Compliance report: where a tenant's requests were served, proven from the usage records.

Every served request is checked against the tenant's residency regions and isolation
(a dedicated tenant only on its own dedicated deployments, a shared tenant never on a
dedicated one). Each violation is listed by request id; the report passes only with none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tokenops.catalog import Catalog, Tenant
from tokenops.store import UsageRecord


@dataclass
class ComplianceReport:
    tenant: str
    period: str
    residency: list[str]
    isolation: str
    content_logging: bool
    requests: int = 0
    served: int = 0
    by_region: dict[str, int] = field(default_factory=dict)
    by_pool: dict[str, int] = field(default_factory=dict)
    by_deployment: list[dict[str, Any]] = field(default_factory=list)
    out_of_residency: list[dict[str, Any]] = field(default_factory=list)
    cross_pool: list[dict[str, Any]] = field(default_factory=list)

    @property
    def compliant(self) -> bool:
        return not self.out_of_residency and not self.cross_pool

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "period": self.period,
            "residency": self.residency,
            "isolation": self.isolation,
            "content_policy": {
                "content_logging": self.content_logging,
                "statement": content_statement(self.content_logging),
            },
            "requests": self.requests,
            "served": self.served,
            "by_region": self.by_region,
            "by_pool": self.by_pool,
            "by_deployment": self.by_deployment,
            "out_of_residency": self.out_of_residency,
            "cross_pool": self.cross_pool,
            "compliant": self.compliant,
        }


def content_statement(content_logging: bool) -> str:
    if content_logging:
        return "Prompt and completion content may be stored, inside the tenant's residency regions only."
    return "No prompt or completion content is stored; usage records hold counts, identifiers and timings only."


def _pool_problem(tenant: Tenant, pool: str | None, owner: str | None) -> str | None:
    if pool is None:
        return "deployment unknown to the catalog"
    if tenant.isolation == "dedicated" and (pool != "dedicated" or owner != tenant.id):
        return "served outside the tenant's own dedicated deployments"
    if tenant.isolation == "shared" and pool != "shared":
        return "served on a dedicated deployment"
    return None


def build_report(catalog: Catalog, tenant_id: str, period: str, records: list[UsageRecord]) -> ComplianceReport:
    tenant = catalog.tenants[tenant_id]
    report = ComplianceReport(tenant.id, period, list(tenant.residency), tenant.isolation, tenant.content_logging)
    regions: Counter[str] = Counter()
    pools: Counter[str] = Counter()
    deployments: dict[str, dict[str, Any]] = {}
    for rec in records:
        report.requests += 1
        if rec.deployment_id is None:
            continue  # refused before any deployment was chosen
        report.served += 1
        region = rec.region or "unknown"
        dep = catalog.deployments.get(rec.deployment_id)
        pool = dep.pool if dep else None
        owner = dep.tenant if dep else None
        regions[region] += 1
        pools[pool or "unknown"] += 1
        row = deployments.setdefault(
            rec.deployment_id,
            {"deployment": rec.deployment_id, "region": region, "pool": pool, "owner": owner, "requests": 0,
             "input_tokens": 0, "output_tokens": 0},
        )  # fmt: skip
        row["requests"] += 1
        row["input_tokens"] += rec.input_tokens
        row["output_tokens"] += rec.output_tokens
        if region not in tenant.residency:
            report.out_of_residency.append({"request_id": rec.request_id, "region": region,
                                            "deployment": rec.deployment_id})  # fmt: skip
        problem = _pool_problem(tenant, pool, owner)
        if problem is not None:
            report.cross_pool.append({"request_id": rec.request_id, "deployment": rec.deployment_id,
                                      "pool": pool, "owner": owner, "reason": problem})  # fmt: skip
    report.by_region = dict(sorted(regions.items()))
    report.by_pool = dict(sorted(pools.items()))
    report.by_deployment = sorted(deployments.values(), key=lambda r: r["deployment"])
    return report

"""An operator-scale catalog: N tenants over 15 sectors, two keys each, 112 models, 448 deployments.

The shape follows the operator in the design brief: a base family of chat and embedding
models, industry models per sector, four deployments per model across four regions (two
of them dedicated to government tenants), an account per tenant (prepaid or postpaid, some
with a token package), a contract price for one tenant in fifty, budgets for one in a hundred
and a priority class per tenant.

    .venv/bin/python bench/scale/catalog.py --tenants 37000 --out /tmp/operator.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

SECTORS = ("energy", "finance", "manufacturing", "retail", "government", "health", "transport", "telecom",
           "education", "logistics", "mining", "agriculture", "media", "construction", "water")  # fmt: skip
REGIONS = ("cn-north", "cn-east", "cn-south", "cn-west")
BASE = ("tele-lite", "tele-max", "tele-code", "tele-embed")
PER_SECTOR = 7  # 4 base + 15 x 7 + 3 = 112 models
GOV_DEDICATED = 3  # government tenants with dedicated deployments of their sector's models


def model_names() -> list[str]:
    names = list(BASE) + [f"{s}-expert-{i}" for s in SECTORS for i in range(PER_SECTOR)]
    return [*names, "tele-vision", "tele-audio", "tele-rerank"]


def tenant_id(i: int) -> str:
    return f"t{i:05d}"


def key_of(i: int, j: int) -> str:
    return f"sk-scale-{i:05d}-{j}"


def operator_catalog(tenants: int, keys_per_tenant: int = 2) -> dict[str, Any]:
    names = model_names()
    models = [{"name": n, "kind": "embedding" if n == "tele-embed" else "chat", "context_window": 65536,
               "tokenizer": "cl100k", **({"dimensions": 256} if n == "tele-embed" else {})} for n in names]  # fmt: skip
    deployments: list[dict[str, Any]] = []
    dedicated_owners = [tenant_id(i) for i in range(GOV_DEDICATED)]
    for n in names:
        for r, region in enumerate(REGIONS):
            dep: dict[str, Any] = {"id": f"{n}-{region}", "model": n, "provider": "simulated",
                                   "upstream_model": n, "region": region, "pool": "shared",
                                   "input_cost_per_mtok": "0.30", "output_cost_per_mtok": "0.60"}  # fmt: skip
            if r == 3 and n in BASE[:2]:  # the base chat models' cn-west deployments are dedicated
                dep.update(pool="dedicated", tenant=dedicated_owners[len(deployments) % GOV_DEDICATED])
            deployments.append(dep)
    rows, accounts, budgets, classes, contracts = [], [], [], {}, {}
    for i in range(tenants):
        tid = tenant_id(i)
        sector = SECTORS[i % len(SECTORS)]
        dedicated = i < GOV_DEDICATED
        mine = [*BASE[:2], "tele-embed", *(f"{sector}-expert-{k}" for k in range(PER_SECTOR))]
        kind = "government" if dedicated or sector == "government" else ("consumer" if i % 97 == 5 else "enterprise")
        tenant: dict[str, Any] = {
            "id": tid, "name": f"Customer {i:05d} ({sector})",
            "kind": kind,
            "sector": sector, "residency": ["cn-west"] if dedicated else list(REGIONS[:2]),
            "isolation": "dedicated" if dedicated else "shared", "models": mine,
            "keys": [{"id": f"{tid}-k{j}", "key": key_of(i, j)} for j in range(keys_per_tenant)],
        }  # fmt: skip
        rows.append(tenant)
        account: dict[str, Any] = {"tenant": tid, "type": "postpaid" if i % 10 == 0 else "prepaid"}
        if account["type"] == "prepaid":
            account["balance"] = "10000.00"
        else:
            account["credit_limit"] = "50000.00"
        if i % 20 == 1:
            account["packages"] = [{"package": "coding-50m"}]
        accounts.append(account)
        if i % 100 == 2:
            budgets.append({"id": f"{tid}-monthly", "scope": "tenant", "tenant": tid, "amount": "5000.00",
                            "period": "month", "mode": "hard"})  # fmt: skip
        classes[tid] = ("gold", "silver", "bronze")[i % 3]
        if i % 50 == 3:
            contracts[tid] = {"discount": "0.10"}
    prices = {n: {"input": "0.60", "output": "1.20"} for n in names}
    return {
        "models": models,
        "aliases": [{"name": "lite", "target": "tele-lite"}, {"name": "max", "target": "tele-max"}],
        "tenants": rows,
        "deployments": deployments,
        "prices": {"currency": "CNY", "tax_rate": "0.06",
                   "sectors": {s: "1.20" if s in ("energy", "finance") else "1.00" for s in SECTORS},
                   "tenants": contracts,
                   "versions": [{"id": "2026-01", "effective": "2026-01-01T00:00:00Z", "models": prices}]},
        "packages": [{"id": "coding-50m", "tokens": 50_000_000, "models": ["tele-lite", "tele-max"],
                      "valid_days": 30, "price": "199.00"}],
        "accounts": accounts,
        "budgets": budgets,
        "limits": {"classes": classes, "shares": {"gold": 0.5, "silver": 0.2, "bronze": 0.1}},
        "admin": {"tokens": [{"id": "bench-operator", "role": "operator", "token": "adm-bench-operator"}]},
    }  # fmt: skip


def write_catalog(path: Path, tenants: int) -> Path:
    text = yaml.dump(operator_catalog(tenants), Dumper=yaml.CSafeDumper, sort_keys=False, width=200)
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=37_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = write_catalog(args.out, args.tenants)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, {args.tenants:,} tenants")


if __name__ == "__main__":
    main()

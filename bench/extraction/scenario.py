"""Who takes part in the evaluation: the catalog the gateway serves, and every client with its keys, addresses,
traffic and start time. Benign tenants hold honest keys of several kinds and, like a stolen or misused key, a
few scrapers; campaigns spread one scrape over keys made together or over several tenants."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bench.extraction import traffic as t

ROOT = Path(__file__).resolve().parents[2]
TENANTS = ["plant-ops", "city-grid", "freight-co", "clinic-net"]
SHELLS = [f"shell-{c}{i}" for c in "abc" for i in range(3)]
PER_TENANT: dict[str, tuple[int, Callable[[random.Random], Iterator[t.Send]]]] = {
    "agent": (10, t.agent), "bursty": (25, t.bursty), "batch": (3, t.batch), "rag": (2, t.rag),
    "embed": (2, t.embed), "status": (3, t.status_bot),
}  # fmt: skip


@dataclass
class Client:
    name: str
    role: str  # benign | scraper | campaign | mixed
    kind: str
    tenant: str
    keys: list[str]  # key ids; secrets are sk-<id> for catalog keys, made at start for campaign keys
    addresses: list[str]
    gens: list[Iterator[t.Send]]  # one per key
    start_s: float = 0.0
    made_at_start: bool = False
    secrets: dict[str, str] = field(default_factory=dict)


def catalog() -> dict[str, Any]:
    demo = yaml.safe_load((ROOT / "examples" / "demo.yaml").read_text())
    deployments = [d for d in demo["deployments"] if d.get("pool", "shared") == "shared"]
    for d in deployments:
        d["simulate"] = {"reply_tokens": 320}  # answers as long as asked (up to 320 tokens), no pacing
    tenants = []
    for tenant in [*TENANTS, "tunes-app", *SHELLS]:
        tenants.append({"id": tenant, "name": tenant, "kind": "consumer" if tenant == "tunes-app" else "enterprise",
                        "sector": "manufacturing", "residency": ["cn-north", "cn-east"], "isolation": "shared",
                        "models": ["tele-lite", "tele-max", "tele-embed", "lite", "max"], "keys": []})  # fmt: skip
    return {
        "models": demo["models"],
        "aliases": [a for a in demo["aliases"] if not a.get("router")],
        "tenants": tenants,
        "deployments": deployments,
        "prices": {k: v for k, v in demo["prices"].items() if k != "tenants"},
        "accounts": [{"tenant": x["id"], "type": "postpaid", "credit_limit": "100000000.00"} for x in tenants],
        "policies": {"extraction": {"default": "throttle"}},
        "admin": {"tokens": [{"id": "eval-operator", "role": "operator", "token": "adm-eval-operator"}]},
    }


def _key(cat: dict[str, Any], tenant: str, key_id: str) -> str:
    next(x for x in cat["tenants"] if x["id"] == tenant)["keys"].append({"id": key_id, "key": f"sk-{key_id}"})
    return key_id


def clients(cat: dict[str, Any], seed: int) -> list[Client]:
    """Every client of the run; catalog keys are added to `cat` as they are handed out."""
    rng = random.Random(seed)
    out: list[Client] = []

    def new_rng() -> random.Random:
        return random.Random(rng.getrandbits(64))

    for ti, tenant in enumerate(TENANTS):
        nat = [f"10.{ti}.0.{n}" for n in range(1, 6)]
        for kind, (count, make) in PER_TENANT.items():
            for i in range(count):
                key = _key(cat, tenant, f"{tenant}-{kind}-{i}")
                where = rng.choice(nat) if rng.random() < 0.4 else f"10.{ti}.{1 + i % 200}.{rng.randrange(2, 250)}"
                out.append(Client(key, "benign", kind, tenant, [key], [where], [make(new_rng())],
                                  rng.uniform(0, 20)))  # fmt: skip
    app_kinds = [("app-users", lambda r: t.app_users(r)), ("app-users-header", lambda r: t.app_users(r, True)),
                 ("app-no-user-field", t.app_no_users)]  # fmt: skip
    for kind, make in app_kinds:
        for i in range(2):
            key = _key(cat, "tunes-app", f"tunes-{kind}-{i}")
            out.append(Client(key, "benign", kind, "tunes-app", [key], [f"10.9.0.{i + 1}"], [make(new_rng())]))
    single = [("templated", 8, t.templated), ("distill", 10, t.distill), ("paraphrase", 8, t.paraphrase)]
    for kind, count, make in single:
        for i in range(count):
            tenant = TENANTS[i % len(TENANTS)]
            key = _key(cat, tenant, f"{tenant}-x{kind}-{i}")
            out.append(Client(key, "scraper", kind, tenant, [key], [f"198.18.{len(out) % 250}.{i + 1}"],
                              [make(new_rng())], rng.uniform(20, 120)))  # fmt: skip
    for c in range(5):  # low and slow over five keys of one tenant, made together through the admin API
        tenant = TENANTS[c % len(TENANTS)]
        keys = [f"{tenant}-batch{c}-{k}" for k in range(5)]
        out.append(Client(f"campaign-keys-{c}", "campaign", "low-slow-keys", tenant, keys, [f"203.0.113.{c + 1}"],
                          [t.slow_scrape(new_rng()) for _ in keys], 30.0 + 20 * c, made_at_start=True))  # fmt: skip
    for c in range(3):  # low and slow over three tenants, two keys each, addresses rotating in one /24
        shells = SHELLS[3 * c : 3 * c + 3]
        keys = [_key(cat, s, f"{s}-key{k}") for s in shells for k in range(2)]
        out.append(Client(f"campaign-tenants-{c}", "campaign", "low-slow-tenants", ",".join(shells), keys,
                          [f"192.0.2.{64 * c + n}" for n in range(1, 40)], [t.slow_scrape(new_rng()) for _ in keys],
                          40.0 + 30 * c))  # fmt: skip
    hosts = [("batch", t.batch), ("agent", t.agent), ("rag", t.rag)]
    for i, fraction in enumerate([0.1, 0.25, 0.5] * 3):
        tenant = TENANTS[i % len(TENANTS)]
        host_kind, host = hosts[i // 3]
        key = _key(cat, tenant, f"{tenant}-mixed-{i}")
        scrape = t.distill(new_rng()) if i % 2 else t.paraphrase(new_rng())
        gen = t.mixed(new_rng(), t.busy([host(new_rng()) for _ in range(4)]), fraction, scrape)
        out.append(Client(key, "mixed", f"mixed-{host_kind}-{int(fraction * 100)}%", tenant, [key],
                          [f"10.{i % 4}.0.{rng.randrange(1, 6)}"], [gen], rng.uniform(0, 30)))  # fmt: skip
    return out

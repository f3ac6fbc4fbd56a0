"""Admin endpoints for deployments: create and update, with upstream URLs held to the allowlist."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from tokenops.admin.http import Call, fields, text
from tokenops.catalog.codec import from_doc, to_doc
from tokenops.errors import BadRequest, NotFound
from tokenops.security.admin_config import check_upstream
from tokenops.store.admin import AuditDraft

_FIELDS = {
    "id",
    "model",
    "provider",
    "region",
    "pool",
    "tenant",
    "upstream_model",
    "base_url",
    "api_key_env",
    "input_cost_per_mtok",
    "output_cost_per_mtok",
    "weight",
    "capacity",
    "timeout_s",
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


def _choice(data: dict[str, Any], name: str, options: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in options:
        raise BadRequest(f"{name!r} must be one of {', '.join(options)}", param=name)
    return str(value)


def _number(data: dict[str, Any], name: str, high: float, integer: bool = True) -> Any:
    value = data.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 <= value <= high:
        raise BadRequest(f"{name!r} must be a number from 0 to {high}", param=name)
    return value


def _money(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "0")
    try:
        amount = Decimal(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 <= amount < 10**9:
        raise BadRequest(f"{name!r} must be a decimal string such as '0.60'", param=name)
    return str(amount)


def _deployment(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    fields(data, _FIELDS, {"id", "model", "provider", "region"})
    catalog = call.state.catalog
    dep_id = text(data, "id", limit=64) or ""
    if not _ID.match(dep_id):
        raise BadRequest("'id' may hold letters, digits, '.', '_' and '-' only", param="id")
    model = text(data, "model") or ""
    if model not in catalog.models:
        raise BadRequest(f"unknown model {model!r}", param="model")
    provider = _choice(data, "provider", ("simulated", "openai", "anthropic"))
    pool = _choice({"pool": data.get("pool", "shared")}, "pool", ("shared", "dedicated"))
    tenant = text(data, "tenant")
    if (pool == "dedicated") != (tenant is not None):
        raise BadRequest("a dedicated deployment names its tenant; a shared one none", param="tenant")
    if tenant is not None and (tenant not in catalog.tenants or catalog.tenants[tenant].isolation != "dedicated"):
        raise BadRequest(f"tenant {tenant!r} is not a dedicated tenant", param="tenant")
    base_url = text(data, "base_url", limit=2000)
    if provider != "simulated" and base_url is None:
        raise BadRequest(f"'base_url' is required for provider {provider}", param="base_url")
    if base_url is not None:
        check_upstream(base_url, call.state.guard.allowlist)
    env = text(data, "api_key_env", limit=128)
    if env is not None and not _ENV.match(env):
        raise BadRequest("'api_key_env' must be an environment variable name", param="api_key_env")
    doc = {
        "id": dep_id,
        "model": model,
        "provider": provider,
        "region": text(data, "region", limit=64),
        "pool": pool,
        "tenant": tenant,
        "upstream_model": text(data, "upstream_model") or model,
        "base_url": base_url,
        "api_key_env": env,
        "input_cost_per_mtok": _money(data, "input_cost_per_mtok"),
        "output_cost_per_mtok": _money(data, "output_cost_per_mtok"),
        "weight": _number(data, "weight", 10_000) if "weight" in data else 1,
        "capacity": _number(data, "capacity", 1_000_000) or 0,
        "timeout_s": float(_number(data, "timeout_s", 3600, integer=False) or 600.0),
    }
    return to_doc(from_doc("deployment", doc))  # drops what this version of the catalog does not know


async def _save(call: Call, action: str, doc: dict[str, Any], before: dict[str, Any] | None) -> Any:
    store = call.state.guard.store
    assert store is not None
    await store.put_doc(
        "deployment", doc["id"], doc, AuditDraft(call.actor.id, action, doc["id"], doc["tenant"], before, doc)
    )
    await call.state.guard.changed()
    return doc


async def create_deployment(call: Call) -> Any:
    call.actor.require_operator()
    doc = _deployment(call, await call.json())
    if doc["id"] in call.state.catalog.deployments:
        raise BadRequest(f"deployment {doc['id']!r} already exists", param="id", code="deployment_exists")
    return 201, await _save(call, "deployments.create", doc, None)


async def update_deployment(call: Call) -> Any:
    call.actor.require_operator()
    current = call.state.catalog.deployments.get(call.params["deployment_id"])
    if current is None:
        raise NotFound("no such deployment", code="deployment_not_found")
    before = to_doc(current)
    before.pop("simulate", None)
    data = {k: v for k, v in before.items() if k in _FIELDS and v is not None}
    data.update(await call.json())
    if data.get("id") != current.id:
        raise BadRequest("a deployment's id cannot change", param="id")
    doc = _deployment(call, data)
    doc["simulate"] = dict(current.simulate)
    return await _save(call, "deployments.update", doc, to_doc(current))

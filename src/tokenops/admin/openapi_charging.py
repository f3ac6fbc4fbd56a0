"""The charging part of the admin API's OpenAPI document: accounts, top-ups, packages, prices, budgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_KEY = {"type": "string", "minLength": 1, "maxLength": 200}
_MONEY = {"type": "string", "pattern": r"^-?\d{1,13}(\.\d{1,4})?$", "description": "major units, e.g. '100.00'"}
_RATE = {"type": "string", "pattern": r"^\d{1,9}(\.\d{1,9})?$", "description": "e.g. '2.50'"}
_MODEL_PRICE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input": _RATE,
        "output": _RATE,
        "cached_input": _RATE,
        "cache_write": _RATE,
        "cache_write_1h": _RATE,
        "reasoning": _RATE,
    },
}
_PRICES = {"type": "object", "additionalProperties": _MODEL_PRICE}
_TOPUP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["amount"],
    "properties": {
        "amount": _MONEY,
        "kind": {"type": "string", "enum": ["topup", "refund", "adjustment"]},
        "note": {"type": "string", "minLength": 1, "maxLength": 500},
        "idempotency_key": _KEY,
    },
}
_GRANT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["package"],
    "properties": {"package": _ID, "starts": {"type": "string", "format": "date-time"}, "idempotency_key": _KEY},
}
_LIMIT = {"type": "object", "additionalProperties": False, "required": ["limit"], "properties": {"limit": _MONEY}}
_PRICE_VERSION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "models"],
    "properties": {
        "id": _ID,
        "effective": {"type": "string", "format": "date-time", "description": "default now; never in the past"},
        "models": _PRICES,
        "sectors": {"type": "object", "additionalProperties": _RATE},
        "tenants": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"discount": _RATE, "models": _PRICES},
            },
        },
    },
}
_BUDGET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["scope"],
    "properties": {
        "scope": {"type": "string", "enum": ["tenant", "key", "session"]},
        "tenant": _ID,
        "key": _ID,
        "period": {"type": "string", "enum": ["day", "month", "none"]},
        "mode": {"type": "string", "enum": ["hard", "soft"]},
        "amount": _MONEY,
        "tokens": {"type": "integer", "minimum": 1},
    },
}
_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": _KEY}


def charging_paths(op: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The paths, built with the main document's operation helper `op`."""
    tenant = ["tenant_id"]
    tenant_q = [("tenant", _ID)]
    topup = op("Credit an account once per idempotency key (a replay answers 200)", "201", _TOPUP, tenant)
    grant = op("Grant a token package once per idempotency key (its price is debited)", "201", _GRANT, tenant)
    for write in (topup, grant):
        write["parameters"].append(_IDEMPOTENCY)
        write["responses"]["200"] = write["responses"]["201"]
    entries_q = [("limit", {"type": "integer", "minimum": 1, "maximum": 10000}), ("since_ms", {"type": "integer"})]
    return {
        "/admin/accounts": {"get": op("Accounts with balance, limit and packages", query=tenant_q)},
        "/admin/accounts/{tenant_id}": {
            "get": op("A tenant's account", path=tenant),
            "put": op("Set the overdraft (prepaid) or credit (postpaid) limit", body=_LIMIT, path=tenant),
        },
        "/admin/accounts/{tenant_id}/topups": {"post": topup},
        "/admin/accounts/{tenant_id}/packages": {
            "get": op("A tenant's package grants and what remains", path=tenant),
            "post": grant,
        },
        "/admin/accounts/{tenant_id}/entries": {
            "get": op("A tenant's ledger entries, oldest first", path=tenant, query=entries_q)
        },
        "/admin/accounts/{tenant_id}/invoices/{period}": {
            "get": op(
                "A tenant's invoice for a calendar month (UTC), as JSON or CSV",
                path=[*tenant, "period"],
                query=[("format", {"type": "string", "enum": ["json", "csv"]})],
            )
        },
        "/admin/packages": {"get": op("The token packages on sale")},
        "/admin/prices": {
            "get": op("The price book's versions"),
            "post": op("Add a price version, effective now or later", "201", _PRICE_VERSION),
        },
        "/admin/budgets": {"get": op("Budgets and what they spent this period", query=tenant_q)},
        "/admin/budgets/{budget_id}": {
            "put": op("Create or replace a budget", body=_BUDGET, path=["budget_id"]),
        },
        "/admin/ledger/verify": {
            "get": op(
                "Check the ledger's invariants on what is new since the last checkpoint (balances, rated usage, one "
                "charge per request, hash chains), at most `limit` entries a call (`complete` false: call again)",
                query=[
                    ("grace_ms", {"type": "integer", "minimum": 0, "maximum": 86400000}),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 200000}),
                ],
            )
        },
        "/admin/reconcile": {
            "get": op(
                "Reconcile a month per tenant and hour: tokens served = charged, charges = re-rated usage, "
                "invoices = charges",
                query=[
                    ("period", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}),
                    ("tenant", {"type": "string"}),
                    ("after", {"type": "string"}),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
            )
        },
    }

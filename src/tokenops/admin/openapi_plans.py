"""The plans and vouchers part of the admin API's OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenops.admin.openapi_charging import _ID, _IDEMPOTENCY, _KEY
from tokenops.admin.openapi_charging import _MODEL_PRICE as _PRICE

_MONEY = {"type": "string", "pattern": r"^\d{1,13}(\.\d{1,4})?$", "description": "major units, e.g. '199.00'"}
_OVERAGE = {
    "description": "past the allowance: 'list' (the price book), 'stop' (a hard stop) or the plan's own price",
    "oneOf": [{"type": "string", "enum": ["list", "stop"]}, _PRICE],
}
_PLAN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["price", "allowances"],
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "price": _MONEY,
        "overage": _OVERAGE,
        "rollover": {"type": "object", "properties": {"percent": {"type": "integer", "minimum": 0, "maximum": 100}}},
        "allowances": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["tokens"],
                "properties": {"models": {"type": "array", "items": _ID}, "tokens": {"type": "integer", "minimum": 1},
                               "overage": _OVERAGE},
            },
        },
    },
}
_SUBSCRIBE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["plan"],
    "properties": {"plan": _ID, "key_id": _ID, "starts": {"type": "string", "format": "date-time"},
                   "idempotency_key": _KEY},
}  # fmt: skip
_CHANGE = {"type": "object", "additionalProperties": False, "required": ["plan"],
           "properties": {"plan": _ID, "idempotency_key": _KEY}}  # fmt: skip
_CANCEL = {"type": "object", "additionalProperties": False, "properties": {"at_period_end": {"type": "boolean"}}}


def plan_paths(op: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The paths, built with the main document's operation helper `op`."""
    tenant, sub = ["tenant_id"], ["tenant_id", "subscription_id"]
    subscribe = op("Start a plan for a tenant (or one of its keys) once per idempotency key; its first month's "
                   "fee, prorated, is debited", "201", _SUBSCRIBE, tenant)  # fmt: skip
    change = op("Change a subscription's plan now: the unused share of the old fee is credited, the new one "
                "starts prorated", "201", _CHANGE, sub)  # fmt: skip
    for write in (subscribe, change):
        write["parameters"].append(_IDEMPOTENCY)
        write["responses"]["200"] = write["responses"]["201"]
    return {
        "/admin/plans": {"get": op("The plans on sale")},
        "/admin/plans/{plan_id}": {
            "put": op("Create or replace a plan on sale (subscriptions keep the terms they were sold on)", body=_PLAN,
                      path=["plan_id"]),
        },
        "/admin/accounts/{tenant_id}/plans": {
            "get": op("A tenant's plan subscriptions, with each month's allowance used and left", path=tenant),
            "post": subscribe,
        },
        "/admin/accounts/{tenant_id}/plans/{subscription_id}/change": {"post": change},
        "/admin/accounts/{tenant_id}/plans/{subscription_id}/cancel": {
            "post": op("Cancel a subscription now (the unused share of the month's fee is credited) or at the "
                       "month's end", body=_CANCEL, path=sub),
        },
    }

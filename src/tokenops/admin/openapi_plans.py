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
                "properties": {
                    "models": {"type": "array", "items": _ID},
                    "tokens": {"type": "integer", "minimum": 1},
                    "overage": _OVERAGE,
                },
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
            "put": op(
                "Create or replace a plan on sale (subscriptions keep the terms they were sold on)",
                body=_PLAN,
                path=["plan_id"],
            ),
        },
        "/admin/accounts/{tenant_id}/plans": {
            "get": op("A tenant's plan subscriptions, with each month's allowance used and left", path=tenant),
            "post": subscribe,
        },
        "/admin/accounts/{tenant_id}/plans/{subscription_id}/change": {"post": change},
        "/admin/accounts/{tenant_id}/plans/{subscription_id}/cancel": {
            "post": op(
                "Cancel a subscription now (the unused share of the month's fee is credited) or at the month's end",
                body=_CANCEL,
                path=sub,
            ),
        },
    }


_BATCH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "count", "expires"],
    "properties": {
        "kind": {"type": "string", "enum": ["money", "tokens"]},
        "amount": {**_MONEY, "description": "what a money voucher is worth, major units"},
        "package": {**_ID, "description": "the package a token voucher grants"},
        "count": {"type": "integer", "minimum": 1, "maximum": 10000},
        "expires": {"type": "string", "format": "date-time"},
        "tenants": {"type": "array", "items": _ID, "description": "who may redeem (with tenant_kinds; none: anyone)"},
        "tenant_kinds": {"type": "array", "items": {"type": "string", "enum": ["enterprise", "government",
                                                                               "consumer"]}},
        "note": {"type": "string", "minLength": 1, "maxLength": 500},
    },
}  # fmt: skip
_REDEEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code"],
    "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 64},
                   "tenant": {**_ID, "description": "an operator names it; a tenant-admin redeems for its own"}},
}  # fmt: skip
_REVOKE = {"type": "object", "additionalProperties": False,
           "properties": {"code": {"type": "string", "maxLength": 64}, "voucher_id": _ID}}  # fmt: skip


def voucher_paths(op: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    redeem = op("Redeem a voucher code once (the same tenant again: 200, replayed); failed attempts are limited per "
                "tenant and address (429 rate_limit_voucher) and recorded", "201", _REDEEM)  # fmt: skip
    redeem["responses"]["200"] = redeem["responses"]["201"]
    return {
        "/admin/vouchers": {
            "get": op("Voucher batches, with how many codes are active, redeemed and revoked"),
            "post": op("Issue a batch of single-use codes (shown once in this answer, stored as keyed hashes)", "201",
                       _BATCH),
        },
        "/admin/vouchers/redeem": {"post": redeem},
        "/admin/vouchers/attempts": {
            "get": op("Redemption attempts, newest first, and how many had each outcome",
                      query=[("tenant", _ID), ("limit", {"type": "integer", "minimum": 1, "maximum": 10000})]),
        },
        "/admin/vouchers/{batch_id}": {"get": op("A batch and the state of each of its codes", path=["batch_id"])},
        "/admin/vouchers/{batch_id}/revoke": {
            "post": op("Revoke a batch's unredeemed codes, or one of them", body=_REVOKE, path=["batch_id"]),
        },
    }  # fmt: skip

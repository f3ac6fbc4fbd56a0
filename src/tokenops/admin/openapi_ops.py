"""The operations part of the admin API's OpenAPI document: end-user quotas, alerts and the usage export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_USER = {"type": "string", "minLength": 1, "maxLength": 256}
_MONEY = {"type": "string", "pattern": r"^\d{1,13}(\.\d{1,2})?$", "description": "major units, e.g. '1.50'"}
_QUOTA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": _ID,
        "period": {"type": "string", "enum": ["day", "month"]},
        "tokens": {"type": "integer", "minimum": 1},
        "amount": _MONEY,
        "mode": {"type": "string", "enum": ["hard", "soft"]},
        "unlimited": {"type": "boolean", "enum": [True]},
    },
}
_DEFAULTS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "quotas": {"type": "array", "items": _QUOTA, "maxItems": 8},
        "require_end_user": {"type": "boolean"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
}
_OVERRIDE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["quotas"],
    "properties": {"quotas": {"type": "array", "items": _QUOTA, "maxItems": 8}},
}


_KINDS = ["low_balance", "runway", "package_allowance", "plan_allowance", "budget", "extraction",
          "residency_violation", "end_user_quota"]  # fmt: skip
_WEBHOOK = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "id": _ID,
        "url": {"type": "string", "format": "uri", "maxLength": 2000},
        "tenant": _ID,
        "kinds": {"type": "array", "items": {"type": "string", "enum": _KINDS}},
    },
}
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"below": _MONEY, "runway_days": {"type": "number", "minimum": 0.01, "maximum": 3650}},
}
_SETTINGS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "allowlist": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 200}},
        "low_balance": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"default": _RULE, "tenants": {"type": "object", "additionalProperties": _RULE}},
        },
    },
}
_REPLAY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["from_alert"],
    "properties": {"from_alert": {"type": "integer", "minimum": 0}, "to_alert": {"type": "integer", "minimum": 0}},
}


def ops_paths(op: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    user = ["tenant_id", "end_user"]
    limit_q = ("limit", {"type": "integer", "minimum": 1, "maximum": 100000})
    return {
        "/admin/tenants/{tenant_id}/end-user-quotas": {
            "get": op("A tenant's default end-user quotas", path=["tenant_id"]),
            "put": op("Replace a tenant's default end-user quotas", body=_DEFAULTS, path=["tenant_id"]),
        },
        "/admin/tenants/{tenant_id}/end-users": {
            "get": op("End users with quotas of their own", path=["tenant_id"], query=[limit_q])
        },
        "/admin/tenants/{tenant_id}/end-users/{end_user}/quotas": {
            "get": op("An end user's quotas and what it used this period", path=user),
            "put": op("Set an end user's own quotas (by name, over the tenant's defaults)", body=_OVERRIDE, path=user),
            "delete": op("Clear an end user's own quotas (the tenant's defaults apply)", path=user),
        },
        "/admin/export/status": {"get": op("The usage export: each sink's outbox position and lag")},
        "/admin/alerts": {"get": op("Alerts raised, newest first", query=[("tenant", _ID), limit_q])},
        "/admin/alerts/webhooks": {
            "get": op("Alert webhooks", query=[("tenant", _ID)]),
            "post": op("Add an alert webhook (its signing secret is shown once)", "201", _WEBHOOK),
        },
        "/admin/alerts/webhooks/{webhook_id}": {"delete": op("Stop delivering to a webhook", path=["webhook_id"])},
        "/admin/alerts/webhooks/{webhook_id}/replay": {
            "post": op("Deliver alerts to a webhook again, in order", body=_REPLAY, path=["webhook_id"])
        },
        "/admin/alerts/deliveries": {"get": op("The delivery log", query=[("webhook", _ID), ("tenant", _ID), limit_q])},
        "/admin/alerts/settings": {
            "get": op("The alerts allowlist and low-balance rules"),
            "put": op("Replace the alerts allowlist and low-balance rules", body=_SETTINGS),
        },
    }

"""The admin API's OpenAPI 3.0 document, served at /admin/openapi.json."""

from __future__ import annotations

from typing import Any

from tokenops import __version__
from tokenops.admin.openapi_charging import charging_paths
from tokenops.admin.openapi_ops import ops_paths
from tokenops.admin.openapi_plans import plan_paths, voucher_paths

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 200}}
_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

_KEY_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "tenant": _ID,
        "id": _ID,
        "models": _STRINGS,
        "expires_at": {"type": "string", "format": "date-time"},
        "allowed_networks": _STRINGS,
    },
}
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["per"],
    "properties": {
        "name": _ID,
        "tenant": _ID,
        "model": _ID,
        "per": {"type": "string", "enum": ["key", "tenant", "model", "end_user"]},
        "rpm": {"type": "integer", "minimum": 0},
        "tpm": {"type": "integer", "minimum": 0},
        "concurrency": {"type": "integer", "minimum": 0},
    },
}
_BENIGN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "key": _ID,
        "event": {"type": "integer", "minimum": 1},
        "pattern": {"type": "string", "minLength": 1, "maxLength": 2000},
        "tenant": _ID,
        "note": {"type": "string", "minLength": 1, "maxLength": 500},
    },
}
_CLASS = {"type": "string", "enum": ["gold", "silver", "bronze"]}
_LIMITS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rules": {"type": "array", "items": _RULE},
        "classes": {"type": "object", "additionalProperties": _CLASS},
        "capacity": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "shares": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
        "queue_ms": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "default_class": _CLASS,
    },
}
_DEPLOYMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "model", "provider", "region"],
    "properties": {
        "id": _ID,
        "model": _ID,
        "provider": {"type": "string", "enum": ["simulated", "openai", "anthropic"]},
        "region": _ID,
        "pool": {"type": "string", "enum": ["shared", "dedicated"]},
        "tenant": _ID,
        "upstream_model": _ID,
        "base_url": {"type": "string", "format": "uri"},
        "api_key_env": _ID,
        "input_cost_per_mtok": {"type": "string"},
        "output_cost_per_mtok": {"type": "string"},
        "weight": {"type": "integer", "minimum": 0},
        "capacity": {"type": "integer", "minimum": 0},
        "timeout_s": {"type": "number", "minimum": 0},
    },
}


def _op(
    summary: str,
    ok: str = "200",
    body: dict[str, Any] | None = None,
    path: list[str] | None = None,
    query: list[tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
            "4XX": _ERROR,
        },
    }
    params = [{"name": p, "in": "path", "required": True, "schema": _ID} for p in path or ()]
    params += [{"name": n, "in": "query", "required": False, "schema": s} for n, s in query or ()]
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def spec() -> dict[str, Any]:
    tenant_q = [("tenant", _ID)]
    limit_q = ("limit", {"type": "integer", "minimum": 1, "maximum": 10000})
    ms = {"type": "integer", "minimum": 0}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tokenops admin API",
            "version": __version__,
            "description": "Operators manage everything; a tenant-admin sees one tenant's keys, usage, account, "
            "packages, budgets and invoices.",
        },
        "security": [{"adminToken": []}],
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object"}}}},
        },
        "paths": {
            "/admin/keys": {
                "get": _op("List API keys", query=tenant_q),
                "post": _op("Create an API key (its secret is shown once)", "201", _KEY_CREATE),
            },
            "/admin/keys/{key_id}/rotate": {"post": _op("Rotate a key's secret", path=["key_id"])},
            "/admin/keys/{key_id}/revoke": {"post": _op("Revoke a key (effective within a second)", path=["key_id"])},
            "/admin/tenants": {"get": _op("List tenants")},
            "/admin/tenants/{tenant_id}": {"get": _op("Get a tenant", path=["tenant_id"])},
            "/admin/limits": {"get": _op("Get the limits"), "put": _op("Replace the limits", body=_LIMITS)},
            "/admin/usage": {
                "get": _op("Usage per tenant and model", query=[*tenant_q, ("since_ms", ms), ("until_ms", ms)])
            },
            "/admin/security/events": {"get": _op("Security events", query=[*tenant_q, limit_q])},
            "/admin/security/benign": {
                "get": _op("Keys and prompt patterns marked benign (the extraction defence's appeals)"),
                "post": _op("Mark a key, an event's key or a prompt pattern benign", "201", _BENIGN),
            },
            "/admin/security/benign/{mark_id}/withdraw": {
                "post": _op("Withdraw a benign mark", path=["mark_id"])
            },
            "/admin/deployments": {"post": _op("Create a deployment", "201", _DEPLOYMENT)},
            "/admin/deployments/{deployment_id}": {
                "put": _op("Update a deployment", body={**_DEPLOYMENT, "required": []}, path=["deployment_id"])
            },
            "/admin/audit": {"get": _op("The hash-chained audit log", query=[limit_q])},
            **charging_paths(_op),
            **plan_paths(_op),
            **voucher_paths(_op),
            **ops_paths(_op),
            "/admin/transcripts/{transcript_id}": {
                "get": _op("The full conversation archived when a request was compacted", path=["transcript_id"])
            },
            "/admin/sessions/{session_id}": {
                "get": _op("A session's token totals and archived transcripts", query=tenant_q, path=["session_id"])
            },
        },
    }

"""The admin API's entry point: authenticate the admin, find the endpoint, answer in JSON."""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.admin import (
    alerts,
    charging,
    deployments,
    export,
    keys,
    plans,
    pricing,
    quotas,
    resources,
    security,
    sessions,
    vouchers,
)
from tokenops.admin.auth import admin_actor
from tokenops.admin.http import Call, Endpoint, match, query_of
from tokenops.admin.openapi import spec
from tokenops.asgi import Request
from tokenops.errors import MethodNotAllowed, NotFound
from tokenops.gateway.state import AppState

ENDPOINTS: list[tuple[str, str, Endpoint]] = [
    ("GET", "/admin/keys", keys.list_keys),
    ("POST", "/admin/keys", keys.create_key),
    ("POST", "/admin/keys/{key_id}/rotate", keys.rotate_key),
    ("POST", "/admin/keys/{key_id}/revoke", keys.revoke_key),
    ("GET", "/admin/tenants", resources.list_tenants),
    ("GET", "/admin/tenants/{tenant_id}", resources.get_tenant),
    ("GET", "/admin/limits", resources.get_limits),
    ("PUT", "/admin/limits", resources.set_limits),
    ("GET", "/admin/usage", resources.usage),
    ("GET", "/admin/security/events", resources.security_events),
    ("GET", "/admin/security/benign", security.list_benign),
    ("POST", "/admin/security/benign", security.mark_benign),
    ("POST", "/admin/security/benign/{mark_id}/withdraw", security.withdraw_benign),
    ("POST", "/admin/deployments", deployments.create_deployment),
    ("PUT", "/admin/deployments/{deployment_id}", deployments.update_deployment),
    ("GET", "/admin/audit", resources.audit_log),
    ("GET", "/admin/accounts", charging.list_accounts),
    ("GET", "/admin/accounts/{tenant_id}", charging.get_account),
    ("PUT", "/admin/accounts/{tenant_id}", charging.set_account),
    ("POST", "/admin/accounts/{tenant_id}/topups", charging.topup),
    ("GET", "/admin/accounts/{tenant_id}/packages", charging.list_grants),
    ("POST", "/admin/accounts/{tenant_id}/packages", charging.grant_package),
    ("GET", "/admin/accounts/{tenant_id}/entries", charging.list_entries),
    ("GET", "/admin/accounts/{tenant_id}/invoices/{period}", charging.invoice),
    ("GET", "/admin/packages", charging.list_products),
    ("GET", "/admin/plans", plans.list_plans),
    ("PUT", "/admin/plans/{plan_id}", plans.put_plan),
    ("GET", "/admin/accounts/{tenant_id}/plans", plans.list_subscriptions),
    ("POST", "/admin/accounts/{tenant_id}/plans", plans.subscribe),
    ("POST", "/admin/accounts/{tenant_id}/plans/{subscription_id}/change", plans.change),
    ("POST", "/admin/accounts/{tenant_id}/plans/{subscription_id}/cancel", plans.cancel),
    ("GET", "/admin/vouchers", vouchers.list_batches),
    ("POST", "/admin/vouchers", vouchers.create_batch),
    ("POST", "/admin/vouchers/redeem", vouchers.redeem),
    ("GET", "/admin/vouchers/attempts", vouchers.attempts),
    ("GET", "/admin/vouchers/{batch_id}", vouchers.get_batch),
    ("POST", "/admin/vouchers/{batch_id}/revoke", vouchers.revoke),
    ("GET", "/admin/prices", pricing.list_prices),
    ("POST", "/admin/prices", pricing.add_price),
    ("GET", "/admin/budgets", pricing.list_budgets),
    ("PUT", "/admin/budgets/{budget_id}", pricing.set_budget),
    ("GET", "/admin/ledger/verify", pricing.verify),
    ("GET", "/admin/reconcile", pricing.reconcile_period),
    ("GET", "/admin/transcripts/{transcript_id}", sessions.get_transcript),
    ("GET", "/admin/sessions/{session_id}", sessions.get_session),
    ("GET", "/admin/tenants/{tenant_id}/end-user-quotas", quotas.get_defaults),
    ("PUT", "/admin/tenants/{tenant_id}/end-user-quotas", quotas.set_defaults),
    ("GET", "/admin/tenants/{tenant_id}/end-users", quotas.list_overrides),
    ("GET", "/admin/tenants/{tenant_id}/end-users/{end_user}/quotas", quotas.get_user),
    ("PUT", "/admin/tenants/{tenant_id}/end-users/{end_user}/quotas", quotas.set_user),
    ("DELETE", "/admin/tenants/{tenant_id}/end-users/{end_user}/quotas", quotas.clear_user),
    ("GET", "/admin/export/status", export.export_status),
    ("GET", "/admin/alerts", alerts.list_alerts),
    ("GET", "/admin/alerts/webhooks", alerts.list_webhooks),
    ("POST", "/admin/alerts/webhooks", alerts.create_webhook),
    ("DELETE", "/admin/alerts/webhooks/{webhook_id}", alerts.remove_webhook),
    ("POST", "/admin/alerts/webhooks/{webhook_id}/replay", alerts.replay),
    ("GET", "/admin/alerts/deliveries", alerts.deliveries),
    ("GET", "/admin/alerts/settings", alerts.get_settings),
    ("PUT", "/admin/alerts/settings", alerts.set_settings),
]


async def admin(req: Request, state: AppState) -> None:
    path, method = req.path, str(req.scope["method"])
    if path.rstrip("/") == "/admin/openapi.json" and method == "GET":
        await req.respond(200, orjson.dumps(spec()))
        return
    found = [(m, params, fn) for m, pattern, fn in ENDPOINTS if (params := match(pattern, path)) is not None]
    if not found:
        raise NotFound(f"no such admin endpoint: {method} {path}", code="unknown_endpoint")
    chosen = [(params, fn) for m, params, fn in found if m == method]
    if not chosen:
        raise MethodNotAllowed(
            f"{method} is not allowed on {path}", headers={"allow": ", ".join(m for m, _, _ in found)}
        )
    actor = await admin_actor(req, state)
    params, fn = chosen[0]
    result: Any = await fn(Call(req, state, actor, params, query_of(req)))
    if req.response_started:  # the endpoint sent a body of its own (an invoice as CSV)
        return
    status, body = result if isinstance(result, tuple) else (200, result)
    await req.respond(status, orjson.dumps(body))

"""Admin endpoints for alerts: the alerts raised, the webhooks they go to (the secret shown once), the delivery
log and its replay, and the operator's allowlist and low-balance rules.

A tenant-admin sees its own tenant's alerts and manages its own webhooks (ids starting with its
tenant's id and '-'); an operator's webhook without a tenant receives every tenant's alerts.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from tokenops.admin.http import Call, fields, strings, text
from tokenops.alerts import Alerts, Webhook, check_url
from tokenops.alerts.config import hook_doc, parse_kinds, parse_rules, rules_doc
from tokenops.alerts.service import HOOK_KIND, SETTINGS
from tokenops.errors import BadRequest, ConfigError, NotFound
from tokenops.store.admin import AdminStore, AuditDraft

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _alerts(call: Call) -> Alerts:
    return call.state.alerts


def _admin(call: Call) -> AdminStore:
    store = call.state.guard.store
    assert store is not None
    return store


def _hook(call: Call, hook_id: str) -> Webhook:
    hook = _alerts(call).webhooks.get(hook_id)
    if hook is None or (not call.actor.operator and hook.tenant != call.actor.tenant):
        raise NotFound("no such webhook", code="webhook_not_found")
    return hook


async def list_alerts(call: Call) -> Any:
    tenant = call.actor.scope(call.query.get("tenant"))
    limit = call.int_query("limit", 100, 1, 10_000) or 100
    return {"alerts": [a.doc() for a in await _alerts(call).store.alerts(tenant, limit)]}


async def list_webhooks(call: Call) -> Any:
    tenant = call.actor.scope(call.query.get("tenant"))
    hooks = [h for h in _alerts(call).webhooks.values() if tenant is None or h.tenant == tenant]
    return {"webhooks": [h.public() for h in sorted(hooks, key=lambda h: h.id)]}


async def create_webhook(call: Call) -> Any:
    data = await call.json()
    fields(data, {"id", "url", "tenant", "kinds"}, {"url"})
    tenant = text(data, "tenant", call.actor.tenant, limit=64)
    if tenant is not None:
        call.actor.check_tenant(tenant)
        if tenant not in call.state.catalog.tenants:
            raise NotFound(f"no tenant {tenant!r}", code="tenant_not_found")
    hook_id = text(data, "id", f"{tenant or 'operator'}-{secrets.token_hex(4)}", limit=64) or ""
    if not _ID.match(hook_id):
        raise BadRequest("'id' may hold letters, digits, '.', '_' and '-' only", param="id")
    if not call.actor.operator and not hook_id.startswith(f"{tenant}-"):
        raise BadRequest(f"a tenant-admin's webhook id starts with '{tenant}-'", param="id", code="webhook_id_prefix")
    if hook_id in _alerts(call).webhooks:
        raise BadRequest(f"a webhook {hook_id!r} already exists", param="id", code="webhook_exists")
    url = text(data, "url", limit=2000) or ""
    check_url(url, _alerts(call).allowlist)
    try:
        kinds = parse_kinds(strings(data, "kinds") or None, "kinds")
    except ConfigError as exc:
        raise BadRequest(str(exc), param="kinds") from None
    hook = Webhook(hook_id, url, secrets.token_urlsafe(32), tenant, kinds)
    draft = AuditDraft(call.actor.id, "alerts.webhook.create", hook_id, tenant, None, hook.public())
    await _admin(call).put_doc(HOOK_KIND, hook_id, hook_doc(hook), draft)
    await call.state.guard.changed()
    return 201, {"webhook": hook.public(), "secret": hook.secret,
                 "note": "the secret is shown only once; check X-Tokenops-Signature with it"}  # fmt: skip


async def remove_webhook(call: Call) -> Any:
    hook = _hook(call, call.params["webhook_id"])
    doc = {**hook_doc(hook), "active": False}
    draft = AuditDraft(call.actor.id, "alerts.webhook.remove", hook.id, hook.tenant, hook.public(), {"active": False})
    await _admin(call).put_doc(HOOK_KIND, hook.id, doc, draft)
    await call.state.guard.changed()
    return {"webhook": {**hook.public(), "active": False}}


async def deliveries(call: Call) -> Any:
    tenant = call.actor.scope(call.query.get("tenant"))
    hook = call.query.get("webhook")
    if hook is not None:
        _hook(call, hook)
    limit = call.int_query("limit", 100, 1, 10_000) or 100
    return {"deliveries": await _alerts(call).store.deliveries(hook, tenant, limit)}


async def replay(call: Call) -> Any:
    hook = _hook(call, call.params["webhook_id"])
    data = await call.json()
    fields(data, {"from_alert", "to_alert"}, {"from_alert"})
    bounds = []
    for name in ("from_alert", "to_alert"):
        value = data.get(name, 2**62 if name == "to_alert" else None)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**62:
            raise BadRequest(f"'{name}' must be an alert id", param=name)
        bounds.append(value)
    count = await _alerts(call).store.requeue(hook.id, bounds[0], bounds[1], call.state.clock.now_ms())
    _alerts(call).due_now(hook.id)
    return {"webhook": hook.id, "requeued": count}


async def get_settings(call: Call) -> Any:
    call.actor.require_operator()
    alerts = _alerts(call)
    return {"allowlist": list(alerts.allowlist), "low_balance": rules_doc(alerts.rules)}


async def set_settings(call: Call) -> Any:
    call.actor.require_operator()
    data = await call.json()
    fields(data, {"allowlist", "low_balance"})
    try:
        rules = rules_doc(parse_rules(data.get("low_balance"), "low_balance"))
    except ConfigError as exc:
        raise BadRequest(str(exc), param="low_balance", code="invalid_alert_rules") from None
    doc = {"allowlist": strings(data, "allowlist"), "low_balance": rules}
    store = _admin(call)
    before = await store.get_doc(*SETTINGS)
    await store.put_doc(*SETTINGS, doc, AuditDraft(call.actor.id, "alerts.settings", "alerts", None, before, doc))
    await call.state.guard.changed()
    return doc

"""Admin endpoints for end-user quotas: a tenant's defaults, and one end user's override, use and reset.

A tenant-admin manages its own tenant's end users; an operator any tenant's. Every change is
audited and reaches every replica like any catalog change.
"""

from __future__ import annotations

from typing import Any

from tokenops.admin.http import Call, fields
from tokenops.charging.money import format_exact
from tokenops.errors import BadRequest, ConfigError, NotFound
from tokenops.quotas import EndUserQuotas, Quota, TenantQuotas, parse_quotas, parse_tenant_quotas
from tokenops.quotas.config import quota_doc, tenant_doc
from tokenops.quotas.service import OVERRIDE_KIND, POLICY_KIND, override_id
from tokenops.store.admin import AdminStore, AuditDraft

_MAX_USER = 256


def _tenant(call: Call) -> str:
    tenant = call.params["tenant_id"]
    call.actor.check_tenant(tenant)
    if tenant not in call.state.catalog.tenants:
        raise NotFound(f"no tenant {tenant!r}", code="tenant_not_found")
    return tenant


def _user(call: Call) -> str:
    user = call.params["end_user"]
    if len(user) > _MAX_USER or "\x00" in user:
        raise BadRequest(f"an end user id is at most {_MAX_USER} characters", param="end_user")
    return user


def _store(call: Call) -> AdminStore:
    store = call.state.guard.store
    assert store is not None
    return store


def _policy_of(quotas: EndUserQuotas, tenant: str) -> TenantQuotas:
    return quotas.policies.get(tenant, TenantQuotas())


async def get_defaults(call: Call) -> Any:
    tenant = _tenant(call)
    return {"tenant": tenant, **tenant_doc(_policy_of(call.state.quotas, tenant))}


async def set_defaults(call: Call) -> Any:
    tenant = _tenant(call)
    data = await call.json()
    try:
        doc = tenant_doc(parse_tenant_quotas(data, "end_user_quotas"))
    except ConfigError as exc:
        raise BadRequest(str(exc), code="invalid_quotas") from None
    store = _store(call)
    before = await store.get_doc(POLICY_KIND, tenant)
    draft = AuditDraft(call.actor.id, "end_user_quotas.set", tenant, tenant, before, doc)
    await store.put_doc(POLICY_KIND, tenant, doc, draft)
    await call.state.guard.changed()
    return {"tenant": tenant, **doc}


def _override_doc(quotas: list[Quota | str], currency: str) -> list[dict[str, Any]]:
    return [{"name": q, "unlimited": True} if isinstance(q, str) else quota_doc(q, currency) for q in quotas]


async def get_user(call: Call) -> Any:
    tenant, user = _tenant(call), _user(call)
    quotas = call.state.quotas
    currency = _policy_of(quotas, tenant).currency
    override = quotas.overrides.get((tenant, user))
    used = await quotas.used(tenant, user, call.state.clock.now_ms())
    return {
        "tenant": tenant,
        "end_user": user,
        "override": _override_doc(override, currency) if override is not None else None,
        "quotas": [_used_doc(u, currency) for u in used],
    }


def _used_doc(used: dict[str, Any], currency: str) -> dict[str, Any]:
    """Tokens as counts; money as exact decimals of the currency, with the integer accounting units beside."""
    quota: Quota = used["quota"]
    doc = {**quota_doc(quota, currency), "period_label": used["period"], "renews_at_s": used["renews_s"]}
    if quota.counts_tokens:
        return {**doc, "used": used["used"], "limit": quota.limit}
    return {**doc, "used": format_exact(used["used"]), "limit": format_exact(quota.limit),
            "used_units": used["used"], "limit_units": quota.limit}  # fmt: skip


async def set_user(call: Call) -> Any:
    tenant, user = _tenant(call), _user(call)
    data = await call.json()
    fields(data, {"quotas"}, {"quotas"})
    currency = _policy_of(call.state.quotas, tenant).currency
    try:
        quotas = parse_quotas(data["quotas"], "quotas", currency, partial=True)
    except ConfigError as exc:
        raise BadRequest(str(exc), code="invalid_quotas", param="quotas") from None
    return await _save(call, tenant, user, _override_doc(quotas, currency))


async def clear_user(call: Call) -> Any:
    tenant, user = _tenant(call), _user(call)
    return await _save(call, tenant, user, None)


async def _save(call: Call, tenant: str, user: str, quotas: list[dict[str, Any]] | None) -> Any:
    store = _store(call)
    doc = {"tenant": tenant, "end_user": user, "quotas": quotas}
    before = await store.get_doc(OVERRIDE_KIND, override_id(tenant, user))
    action = "end_user_quota.set" if quotas is not None else "end_user_quota.clear"
    draft = AuditDraft(call.actor.id, action, f"{tenant}/{user}", tenant, before, doc)
    await store.put_doc(OVERRIDE_KIND, override_id(tenant, user), doc, draft)
    await call.state.guard.changed()
    return await get_user(call)


async def list_overrides(call: Call) -> Any:
    tenant = _tenant(call)
    quotas = call.state.quotas
    currency = _policy_of(quotas, tenant).currency
    found = sorted((u, q) for (t, u), q in quotas.overrides.items() if t == tenant)
    limit = call.int_query("limit", 1000, 1, 100_000) or 1000
    return {
        "tenant": tenant,
        "overrides": [{"end_user": u, "quotas": _override_doc(q, currency)} for u, q in found[:limit]],
        "total": len(found),
    }

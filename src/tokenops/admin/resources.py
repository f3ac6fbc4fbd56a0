"""Admin endpoints for tenants, limits, usage, security events and the audit log."""

from __future__ import annotations

from typing import Any

from tokenops.admin.http import Call
from tokenops.catalog.codec import to_doc
from tokenops.errors import BadRequest, ConfigError, NotFound
from tokenops.limits import limits_doc, parse_limits
from tokenops.store.admin import AuditDraft, verify_chain


def _tenant_doc(call: Call, tenant_id: str) -> dict[str, Any]:
    doc = to_doc(call.state.catalog.tenants[tenant_id])
    doc["priority_class"] = call.state.guard.config.class_of(tenant_id)
    return doc


async def list_tenants(call: Call) -> Any:
    scope = call.actor.scope(None)
    ids = sorted(t for t in call.state.catalog.tenants if scope is None or t == scope)
    return {"tenants": [_tenant_doc(call, t) for t in ids]}


async def get_tenant(call: Call) -> Any:
    tenant_id = call.params["tenant_id"]
    call.actor.check_tenant(tenant_id)
    if tenant_id not in call.state.catalog.tenants:
        raise NotFound(f"no tenant {tenant_id!r}", code="tenant_not_found")
    return _tenant_doc(call, tenant_id)


async def get_limits(call: Call) -> Any:
    call.actor.require_operator()
    store = call.state.guard.store
    assert store is not None
    return await store.get_doc("limits", "current") or limits_doc(parse_limits({}))


async def set_limits(call: Call) -> Any:
    call.actor.require_operator()
    data = await call.json()
    try:
        doc = limits_doc(parse_limits(data, "limits"))
    except ConfigError as exc:
        raise BadRequest(str(exc), code="invalid_limits") from None
    store = call.state.guard.store
    assert store is not None
    before = await store.get_doc("limits", "current")
    await store.put_doc("limits", "current", doc, AuditDraft(call.actor.id, "limits.set", "limits", None, before, doc))
    await call.state.guard.changed()
    return doc


async def usage(call: Call) -> Any:
    tenant = call.actor.scope(call.query.get("tenant"))
    since = call.int_query("since_ms", None)
    until = call.int_query("until_ms", None)
    rows = await call.state.store.usage_summary(since, until)
    return {"usage": [r for r in rows if tenant is None or r["tenant"] == tenant]}


async def security_events(call: Call) -> Any:
    store = call.state.guard.store
    assert store is not None
    limit = call.int_query("limit", 100, 1, 10_000) or 100
    events = await store.events(call.actor.scope(call.query.get("tenant")), limit)
    return {
        "events": [
            {
                "id": e.id,
                "at_ms": e.at_ms,
                "tenant": e.tenant_id,
                "key": e.key_id,
                "detector": e.detector,
                "score": e.score,
                "action": e.action,
                "evidence": e.evidence,
            }
            for e in events
        ]
    }


async def audit_log(call: Call) -> Any:
    call.actor.require_operator()
    store = call.state.guard.store
    assert store is not None
    limit = call.int_query("limit", 100, 1, 10_000) or 100
    entries = await store.audit_entries(None, 10_000_000)
    broken = verify_chain(entries)
    return {
        "chain_ok": broken is None,
        "first_broken_seq": broken,
        "entries": [
            {
                "seq": e.seq,
                "at_ms": e.at_ms,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "tenant": e.tenant_id,
                "before": e.before,
                "after": e.after,
                "hash": e.hash,
                "prev_hash": e.prev_hash,
            }
            for e in entries[-limit:]
        ],
    }

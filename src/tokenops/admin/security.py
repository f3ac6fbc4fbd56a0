"""Admin endpoints of the extraction defence's appeal path: mark a key, an event's key or a prompt pattern
benign, list the marks, withdraw one. Operators only; every mark is audited and reaches every replica
with its next reload."""

from __future__ import annotations

import secrets
from typing import Any

from tokenops.admin.http import Call, fields, text
from tokenops.errors import BadRequest, NotFound
from tokenops.security.appeals import KIND, PATTERN_MAX, pattern_doc
from tokenops.store.admin import AdminStore, AuditDraft

_LEARN_MIN = 8  # requests a key's window holds before its profile is worth learning


def _store(call: Call) -> AdminStore:
    store = call.state.guard.store
    assert store is not None
    return store


def _public(mark_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("profile", "sketch")}
    out["id"] = mark_id
    out["profile_learned"] = "profile" in doc
    return out


async def _event_key(store: AdminStore, event_id: Any) -> str:
    if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 1:
        raise BadRequest("'event' must be a security event's id (a positive integer)", param="event")
    for event in await store.events(None, 10_000):
        if event.id == event_id:
            return event.key_id
    raise NotFound(f"no security event {event_id} among the latest 10,000", code="event_not_found")


async def mark_benign(call: Call) -> Any:
    call.actor.require_operator()
    data = await call.json()
    fields(data, {"key", "event", "pattern", "tenant", "note"})
    chosen = [name for name in ("key", "event", "pattern") if data.get(name) is not None]
    if len(chosen) != 1:
        raise BadRequest("give exactly one of 'key', 'event' or 'pattern'", param="key")
    note = text(data, "note", None, 500)
    store = _store(call)
    doc: dict[str, Any] = {"status": "active", "by": call.actor.id, "at_ms": call.state.clock.now_ms()}
    if note is not None:
        doc["note"] = note
    if chosen == ["pattern"]:
        pattern = text(data, "pattern", None, PATTERN_MAX) or ""
        tenant = text(data, "tenant", None, 64)
        if tenant is not None and tenant not in call.state.catalog.tenants:
            raise NotFound(f"no tenant {tenant!r}", code="tenant_not_found")
        doc.update(pattern_doc(pattern), tenant=tenant)
        target = "pattern"
    else:
        if data.get("tenant") is not None:
            raise BadRequest("'tenant' goes with 'pattern' only (a key names its tenant)", param="tenant")
        key = await _event_key(store, data["event"]) if chosen == ["event"] else text(data, "key", None, 64)
        row = next((r for r in await store.keys() if r.id == key), None)
        if row is None:
            raise NotFound(f"no key {key!r}", code="key_not_found")
        doc.update(key=row.id, tenant=row.tenant_id)
        known = call.state.guard.responder.detectors.keys.get(row.id)
        if known is not None and known.window.n >= _LEARN_MIN:
            doc["profile"] = [round(x, 4) for x in known.window.shares()]
        target = row.id
    mark_id = f"benign-{secrets.token_hex(4)}"
    audit = AuditDraft(call.actor.id, "security.benign", target, doc.get("tenant"), None, _public(mark_id, doc))
    await store.put_doc(KIND, mark_id, doc, audit)
    await call.state.guard.changed()
    return 201, {"mark": _public(mark_id, doc)}


async def list_benign(call: Call) -> Any:
    call.actor.require_operator()
    docs = await _store(call).docs(KIND)
    marks = [_public(mark_id, doc) for mark_id, doc in docs.items()]
    return {"marks": sorted(marks, key=lambda m: (m.get("at_ms") or 0, m["id"]))}


async def withdraw_benign(call: Call) -> Any:
    call.actor.require_operator()
    store = _store(call)
    mark_id = call.params["mark_id"]
    doc = await store.get_doc(KIND, mark_id)
    if doc is None:
        raise NotFound(f"no benign mark {mark_id!r}", code="mark_not_found")
    after = {**doc, "status": "withdrawn", "withdrawn_by": call.actor.id}
    before = _public(mark_id, doc)
    audit = AuditDraft(
        call.actor.id, "security.benign.withdraw", mark_id, doc.get("tenant"), before, _public(mark_id, after)
    )
    await store.put_doc(KIND, mark_id, after, audit)
    await call.state.guard.changed()
    return {"mark": _public(mark_id, after)}

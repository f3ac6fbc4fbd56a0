"""Admin endpoints for API keys: create (the secret is shown once), list, rotate, revoke.

Every change is audited in the same transaction and taken into the serving snapshot at
once (other replicas follow within a poll interval).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from tokenops.admin.http import Call, fields, strings, text
from tokenops.errors import BadRequest, NotFound
from tokenops.gateway.auth import expiry_ms
from tokenops.keys import new_key
from tokenops.store.admin import AuditDraft, KeyRow

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


async def _find(call: Call, key_id: str) -> KeyRow:
    store = call.state.guard.store
    assert store is not None
    for row in await store.keys(call.actor.scope(None)):
        if row.id == key_id:
            return row
    raise NotFound(f"no key {key_id!r}", code="key_not_found")


async def list_keys(call: Call) -> Any:
    store = call.state.guard.store
    assert store is not None
    rows = await store.keys(call.actor.scope(call.query.get("tenant")))
    return {"keys": [r.public() for r in rows]}


def _expiry(value: Any, now_ms: int) -> str | None:
    """The expiry in UTC (one without a zone is taken as UTC); it must lie ahead on the shared clock."""
    if value is None:
        return None
    try:
        moment_ms = expiry_ms(str(value))
    except ValueError:
        raise BadRequest("'expires_at' must be an ISO 8601 date-time", param="expires_at") from None
    if moment_ms <= now_ms:
        raise BadRequest("'expires_at' must be in the future", param="expires_at")
    return datetime.fromtimestamp(moment_ms / 1000, UTC).isoformat()


def _networks(values: list[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(v, strict=False)) for v in values]
    except ValueError:
        raise BadRequest(
            "'allowed_networks' must list IP networks such as 10.0.0.0/8", param="allowed_networks"
        ) from None


async def create_key(call: Call) -> Any:
    data = await call.json()
    fields(data, {"tenant", "id", "models", "expires_at", "allowed_networks"})
    tenant_id = text(data, "tenant", call.actor.tenant)
    if tenant_id is None:
        raise BadRequest("'tenant' is required", param="tenant")
    call.actor.check_tenant(tenant_id)
    tenant = call.state.catalog.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}", code="tenant_not_found")
    key_id = text(data, "id", f"{tenant_id}-{secrets.token_hex(4)}", limit=64) or ""
    if not _ID.match(key_id):
        raise BadRequest("'id' may hold letters, digits, '.', '_' and '-' only", param="id")
    if not call.actor.operator and not key_id.startswith(f"{tenant_id}-"):
        # Key ids are one namespace; a tenant-admin picks ids under its tenant's prefix, so
        # "already exists" can only ever name its own keys, never reveal another tenant's.
        raise BadRequest(f"a tenant-admin's key id starts with '{tenant_id}-'", param="id", code="key_id_prefix")
    models = strings(data, "models")
    outside = [m for m in models if m not in tenant.models]
    if outside:
        raise BadRequest(f"model {outside[0]!r} is not one the tenant may use", param="models")
    networks = _networks(strings(data, "allowed_networks"))
    store = call.state.guard.store
    assert store is not None
    if any(r.id == key_id for r in await store.keys()):
        raise BadRequest(f"a key {key_id!r} already exists", param="id", code="key_exists")
    secret, now_ms = new_key(), call.state.clock.now_ms()
    row = KeyRow(
        key_id,
        tenant_id,
        secret[:10],
        tuple(models),
        "active",
        _expiry(data.get("expires_at"), now_ms),
        now_ms,
    )
    after = {**row.public(), "allowed_networks": networks}
    await store.insert_key(
        row, call.state.hasher(secret), AuditDraft(call.actor.id, "keys.create", key_id, tenant_id, None, after)
    )
    if networks:
        draft = AuditDraft(call.actor.id, "keys.networks", key_id, tenant_id, None, networks)
        await store.put_doc("key_policy", key_id, {"allowed_networks": networks}, draft)
    await call.state.guard.changed()
    return 201, {"key": after, "secret": secret, "note": "the secret is shown only once"}


async def rotate_key(call: Call) -> Any:
    row = await _find(call, call.params["key_id"])
    if row.status == "revoked":
        raise BadRequest("a revoked key cannot be rotated", code="key_revoked")
    store = call.state.guard.store
    assert store is not None
    secret = new_key()
    draft = AuditDraft(
        call.actor.id, "keys.rotate", row.id, row.tenant_id, {"prefix": row.prefix}, {"prefix": secret[:10]}
    )
    await store.update_key(row.id, draft, key_hash=call.state.hasher(secret), prefix=secret[:10])
    await call.state.guard.changed()
    return {"key": {**row.public(), "prefix": secret[:10]}, "secret": secret, "note": "the secret is shown only once"}


async def revoke_key(call: Call) -> Any:
    row = await _find(call, call.params["key_id"])
    store = call.state.guard.store
    assert store is not None
    if row.status != "revoked":
        draft = AuditDraft(
            call.actor.id, "keys.revoke", row.id, row.tenant_id, {"status": row.status}, {"status": "revoked"}
        )
        await store.update_key(row.id, draft, status="revoked")
        await call.state.guard.changed()
    return {"key": {**row.public(), "status": "revoked"}}

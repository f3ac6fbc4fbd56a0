"""The admin API's entry point: authenticate the admin, find the endpoint, answer in JSON."""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.admin import deployments, keys, resources, sessions
from tokenops.admin.auth import admin_actor
from tokenops.admin.http import Call, Endpoint, match, query_of
from tokenops.admin.openapi import spec
from tokenops.errors import MethodNotAllowed, NotFound
from tokenops.gateway.asgi import Request
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
    ("POST", "/admin/deployments", deployments.create_deployment),
    ("PUT", "/admin/deployments/{deployment_id}", deployments.update_deployment),
    ("GET", "/admin/audit", resources.audit_log),
    ("GET", "/admin/transcripts/{transcript_id}", sessions.get_transcript),
    ("GET", "/admin/sessions/{session_id}", sessions.get_session),
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
    status, body = result if isinstance(result, tuple) else (200, result)
    await req.respond(status, orjson.dumps(body))

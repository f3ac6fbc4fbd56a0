"""/dashboard: the page and its static assets (served by tokenops itself, no CDN), and the JSON
views under /dashboard/api/, each answered for the admin token's scope: an operator sees every
tenant, a tenant admin only its own (asking for another tenant is a 404, as in the admin API).
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from tokenops.admin.auth import Actor, admin_actor
from tokenops.admin.http import query_of
from tokenops.asgi import Request, send_bytes
from tokenops.dashboard import views
from tokenops.dashboard.ledger import budget_alerts, period_starts
from tokenops.dashboard.velocity import velocity
from tokenops.errors import BadRequest, NotFound
from tokenops.gateway.state import AppState

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
ME_TENANTS = 200  # tenants listed at sign-in; the rest are found by search
Scope = frozenset[str]
_FILES = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.is_file()}


async def dashboard(req: Request, state: AppState) -> None:
    path = req.path.rstrip("/")
    if path == "/dashboard":
        await _file(req, "index.html")
    elif path.startswith("/dashboard/static/"):
        await _file(req, path.removeprefix("/dashboard/static/"))
    elif path.startswith("/dashboard/api/"):
        view = API.get(path.removeprefix("/dashboard/api/"))
        if view is None:
            raise NotFound(f"no such dashboard view: {path}", code="unknown_endpoint")
        actor = await admin_actor(req, state)
        query = query_of(req)
        scope = _scope(actor, state, query.get("tenant") or None)
        body = orjson.dumps(await view(state, actor, scope, query), option=orjson.OPT_NON_STR_KEYS)
        await send_bytes(req, 200, body, b"application/json", SECURITY_HEADERS)
    else:
        raise NotFound(f"no such page: {path}", code="unknown_endpoint")


async def _file(req: Request, name: str) -> None:
    found = _FILES.get(name)  # only files that ship with tokenops: no path ever reaches the disk
    if found is None:
        raise NotFound(f"no such file: {name}", code="unknown_endpoint")
    ctype = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    await send_bytes(req, 200, found.read_bytes(), ctype.encode(), SECURITY_HEADERS)


def _scope(actor: Actor, state: AppState, tenant: str | None) -> frozenset[str]:
    """The tenants this view covers; a tenant admin's own, whatever was asked for."""
    chosen = actor.scope(tenant)
    if chosen is None:
        return frozenset(state.catalog.tenants)
    if actor.operator and chosen not in state.catalog.tenants:
        raise NotFound(f"no tenant {chosen!r}", code="tenant_not_found")
    return frozenset((chosen,))


def _int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    value = query.get(name) or str(default)
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"query parameter {name!r} must be an integer from {low} to {high}", param=name)
    return int(value)


async def _me(state: AppState, actor: Actor, scope: Scope, query: dict[str, str]) -> Any:
    """Who is signed in; the first tenants of the scope (find any other with the `tenants` view's search)."""
    return {"actor": actor.id, "role": actor.role, "tenant": actor.tenant, "tenant_count": len(scope),
            "tenants": sorted(scope)[:ME_TENANTS]}  # fmt: skip


async def _tenant_page(state: AppState, scope: Scope, query: dict[str, str]) -> dict[str, Any]:
    """The tenant table: `q` searches ids and names, `sort` (tokens, requests, balance, tenant), `page`, `per_page`."""
    sort = query.get("sort") or "tokens"
    if sort not in views.SORTS:
        raise BadRequest(f"query parameter 'sort' must be one of {', '.join(views.SORTS)}", param="sort")
    per_page = _int(query, "per_page", 50, 1, 500)
    page = _int(query, "page", 1, 1, 1_000_000)
    found = views.matching(state, scope, (query.get("q") or "")[:100])
    rows = await views.tenants(state, views.page_of(state, found, sort, page, per_page))
    return {"rows": rows, "total": len(found), "page": page, "per_page": per_page, "sort": sort}


async def _tenants(state: AppState, actor: Actor, scope: Scope, query: dict[str, str]) -> Any:
    return await _tenant_page(state, scope, query)


async def _velocity(state: AppState, actor: Actor, scope: Scope, query: dict[str, str]) -> Any:
    window = _int(query, "window", 120, 10, 600)
    return velocity(state.telemetry.live, scope, window, _int(query, "step", 2, 1, 60))


async def _overview(state: AppState, actor: Actor, scope: Scope, query: dict[str, str]) -> Any:
    wanted = scope
    events = []
    if state.guard.store is not None:
        tenant = next(iter(scope)) if not actor.operator or len(scope) == 1 else None
        for e in await state.guard.store.events(tenant, limit=50):
            if e.tenant_id in wanted:
                events.append({"at_ms": e.at_ms, "tenant": e.tenant_id, "key": e.key_id, "detector": e.detector,
                               "score": e.score, "action": e.action,
                               "why": e.evidence.get("summary", "")})  # fmt: skip
    subjects = {b["subject"] for b in views.budgets(state, scope)} | wanted
    alerts = [a for a in await budget_alerts(state.charging.store) if a["subject"] in subjects]
    table = await _tenant_page(state, scope, query)
    day_start = period_starts(int(time.time() * 1000))[0]
    everyone = actor.operator and len(scope) == len(state.catalog.tenants)
    page_spend = sum(r["spend_today"] for r in table["rows"])
    spend_today = await state.charging.store.charged_since(day_start) if everyone else page_spend
    sent = [a.doc() for a in await state.alerts.store.alerts(None if actor.operator else next(iter(scope)), 50)
            if a.tenant is None or a.tenant in wanted]  # fmt: skip
    return {
        "currency": state.charging.config.currency,
        "totals": {**views.totals(state, scope), "spend_today": spend_today},
        "tenant_page": {k: v for k, v in table.items() if k != "rows"},
        "tenants": table["rows"],
        "deployments": views.deployments(state, scope, actor.operator),
        "routing": views.routing(state, scope),
        "residency": views.residency(state, scope),
        "budgets": views.budgets(state, scope),
        "budget_alerts": alerts,
        "compaction": views.compaction(state, scope),
        "alerts": sent,
        "security_events": events,
    }


API: dict[str, Callable[[AppState, Actor, Scope, dict[str, str]], Awaitable[Any]]] = {
    "me": _me,
    "tenants": _tenants,
    "velocity": _velocity,
    "overview": _overview,
}

"""Admin credentials: a bearer admin token (stored hashed) to an actor with a role and a scope.

Failed logins are counted per client address and refused with 429 past a small limit,
before the token is even looked at, so tokens cannot be guessed at speed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenops.asgi import Request
from tokenops.errors import AuthenticationFailed, NotFound, PermissionDenied, RateLimited
from tokenops.gateway.auth import bearer
from tokenops.gateway.state import AppState

FAILED_LOGINS_PER_MINUTE = 10


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    role: str
    tenant: str | None  # the one tenant of a tenant-admin

    @property
    def operator(self) -> bool:
        return self.role == "operator"

    def require_operator(self) -> None:
        if not self.operator:
            raise PermissionDenied("this needs an operator token", code="operator_only")

    def scope(self, tenant: str | None) -> str | None:
        """The tenant a query may see: any (None) for operators; a tenant-admin's own, whatever was asked."""
        if self.operator:
            return tenant
        if tenant is not None and tenant != self.tenant:
            raise NotFound(f"no tenant {tenant!r}", code="tenant_not_found")
        return self.tenant

    def check_tenant(self, tenant: str) -> None:
        """Another tenant's objects do not exist for a tenant-admin (404, not 403: nothing leaks)."""
        if not self.operator and tenant != self.tenant:
            raise NotFound("no such object", code="not_found")


async def admin_actor(req: Request, state: AppState) -> Actor:
    store = state.guard.store
    if store is None:
        raise NotFound("the admin API is not enabled on this gateway", code="admin_disabled")
    token = bearer(req.headers)
    found = await store.admin_token(state.hasher(token)) if token else None
    if found is not None and found.status == "active":
        # A valid token is never locked out by others' failures from its address (behind a
        # load balancer every operator shares one address).
        return Actor(found.id, found.role, found.tenant_id)
    client = "login|" + (req.client_host or "unknown")
    if await state.guard.counters.total(client, 60.0) >= FAILED_LOGINS_PER_MINUTE:
        raise RateLimited(
            "too many failed admin logins from this address; retry later",
            code="rate_limit_admin_login",
            headers={"retry-after": "60"},
        )
    await state.guard.counters.take(client, 1, 1_000_000, 60.0)
    raise AuthenticationFailed("invalid or missing admin token", code="invalid_admin_token")

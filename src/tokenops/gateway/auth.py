"""Authenticate: the caller's key to its tenant, through the in-memory catalog (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tokenops.catalog import ApiKey, Catalog, Tenant
from tokenops.errors import AuthenticationFailed, PermissionDenied
from tokenops.keys import KeyHasher


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: Tenant
    key: ApiKey

    def may_use(self, model: str) -> bool:
        allowed = self.key.models or self.tenant.models
        return model in allowed


def bearer(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization")
    if value is not None:
        scheme, _, token = value.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = headers.get(b"x-api-key")
    return api_key.decode("latin-1").strip() if api_key else None


def authenticate(catalog: Catalog, hash_key: KeyHasher, headers: dict[bytes, bytes], now_ms: int) -> Principal:
    """The caller's principal; `now_ms` is the shared clock, so a key expires at one moment on every replica."""
    token = bearer(headers)
    if not token:
        raise AuthenticationFailed("missing API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key")
    key = catalog.keys.get(hash_key(token))
    if key is None or key.status == "revoked":
        raise AuthenticationFailed("invalid API key")
    if key.expires_at is not None and expiry_ms(key.expires_at) <= now_ms:
        raise AuthenticationFailed("API key has expired", code="expired_api_key")
    if key.status != "active":
        raise PermissionDenied("API key is suspended", code="key_suspended")
    tenant = catalog.tenants.get(key.tenant_id)
    if tenant is None:
        raise AuthenticationFailed("invalid API key")
    return Principal(tenant, key)


def expiry_ms(expires_at: str) -> int:
    """A key's expiry as stored (ISO 8601; UTC where it names no zone) in ms since the epoch."""
    moment = datetime.fromisoformat(expires_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

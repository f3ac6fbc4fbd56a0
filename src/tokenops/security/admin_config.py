"""The catalog's `admin` section: admin tokens (seeded hashed) and the upstream allowlist."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tokenops.errors import BadRequest, ConfigError
from tokenops.store.admin import AdminToken

_ROLES = ("operator", "tenant-admin")


@dataclass(frozen=True, slots=True)
class AdminSettings:
    tokens: tuple[tuple[AdminToken, str | None], ...] = ()  # (token without hash yet, plaintext) for seeding
    upstream_allowlist: tuple[str, ...] = ()


def parse_admin(data: Any, path: str = "catalog.admin") -> AdminSettings:
    if data is None:
        return AdminSettings()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    unknown = sorted(set(data) - {"tokens", "upstream_allowlist"})
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    tokens = []
    for i, item in enumerate(data.get("tokens") or []):
        where = f"{path}.tokens[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a mapping")
        extra = sorted(set(item) - {"id", "role", "tenant", "token", "token_hash"})
        if extra:
            raise ConfigError(f"{where}.{extra[0]}: unknown field")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise ConfigError(f"{where}.id: required field is missing")
        role = item.get("role")
        if role not in _ROLES:
            raise ConfigError(f"{where}.role: must be one of {', '.join(_ROLES)}, got {role!r}")
        tenant = item.get("tenant")
        if (role == "tenant-admin") != isinstance(tenant, str):
            raise ConfigError(f"{where}.tenant: a tenant-admin names exactly one tenant; an operator none")
        plaintext, token_hash = item.get("token"), item.get("token_hash")
        if (plaintext is None) == (token_hash is None):
            raise ConfigError(f"{where}: give exactly one of token (plaintext, demo only) or token_hash")
        tokens.append((AdminToken(item["id"], role, tenant, token_hash or ""), plaintext))
    allow = data.get("upstream_allowlist") or []
    if not isinstance(allow, list) or not all(isinstance(a, str) and a for a in allow):
        raise ConfigError(f"{path}.upstream_allowlist: must be a list of hosts, *.domains or networks")
    return AdminSettings(tuple(tokens), tuple(allow))


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def check_upstream(url: str, allowlist: tuple[str, ...] | list[str]) -> None:
    """Refuse an upstream base URL whose host the operator has not allowed (no SSRF into internal services).

    IP literals must fall in an allowed network; names must match an allowed host or `*.domain`.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise BadRequest("base_url is not a valid URL", param="base_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise BadRequest("base_url must be an http(s) URL with a host", param="base_url")
    if parts.username or parts.password:
        raise BadRequest("base_url must not carry credentials", param="base_url")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    host = host.lower().rstrip(".")
    for entry in allowlist:
        if address is not None:
            network = _network(entry)
            if network is not None and address in network:
                return
        elif (entry.startswith("*.") and host.endswith(entry[1:].lower())) or entry.lower() == host:
            return
    raise BadRequest(
        f"base_url host {host!r} is not on the operator's upstream allowlist",
        param="base_url",
        code="upstream_not_allowed",
    )

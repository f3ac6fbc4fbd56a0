"""The catalog's `alerts` section: the hosts webhooks may point at, the webhooks, and the low-balance rules.

```yaml
alerts:
  allowlist: [hooks.example.com, "10.20.0.0/16"]      # like admin.upstream_allowlist
  webhooks:
    - {id: noc, url: "https://hooks.example.com/tokenops", secret_env: NOC_WEBHOOK_SECRET}
    - {id: ringback, url: "https://hooks.example.com/ringback", tenant: ringback-app, kinds: [low_balance]}
  low_balance:
    default: {below: "100.00", runway_days: 3}
    tenants: {ringback-app: {below: "5000.00"}}
```
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tokenops.alerts.model import KINDS, Webhook
from tokenops.errors import ConfigError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SECTIONS = {"allowlist", "webhooks", "low_balance"}
_HOOK_FIELDS = {"id", "url", "tenant", "kinds", "secret", "secret_env"}


@dataclass(frozen=True, slots=True)
class BalanceRule:
    below: str | None = None  # major units: alert when the balance (with its overdraft) falls under it
    runway_days: float | None = None  # alert when the balance lasts fewer days at the last day's burn


@dataclass(frozen=True, slots=True)
class AlertRules:
    default: BalanceRule = field(default_factory=BalanceRule)
    tenants: dict[str, BalanceRule] = field(default_factory=dict)

    def for_tenant(self, tenant: str) -> BalanceRule:
        return self.tenants.get(tenant, self.default)


def _mapping(data: Any, path: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    return data


def parse_rule(data: Any, path: str) -> BalanceRule:
    data = _mapping(data, path)
    unknown = sorted(set(data) - {"below", "runway_days"})
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    below = data.get("below")
    if below is not None:
        if isinstance(below, (bool, float)) or not isinstance(below, (str, int)):
            raise ConfigError(f"{path}.below: write money as a string, e.g. '100.00'")
        try:
            if not Decimal(str(below)).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise ConfigError(f"{path}.below: not a decimal amount: {below!r}") from None
    days = data.get("runway_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= 3650):
        raise ConfigError(f"{path}.runway_days: a number of days, above 0")
    return BalanceRule(str(below) if below is not None else None, float(days) if days is not None else None)


def parse_rules(data: Any, path: str = "catalog.alerts.low_balance") -> AlertRules:
    data = _mapping(data, path)
    unknown = sorted(set(data) - {"default", "tenants"})
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    tenants = {str(t): parse_rule(r, f"{path}.tenants.{t}") for t, r in _mapping(data.get("tenants"), path).items()}
    return AlertRules(parse_rule(data.get("default"), f"{path}.default"), tenants)


def rules_doc(rules: AlertRules) -> dict[str, Any]:
    def one(rule: BalanceRule) -> dict[str, Any]:
        return {k: v for k, v in (("below", rule.below), ("runway_days", rule.runway_days)) if v is not None}

    return {"default": one(rules.default), "tenants": {t: one(r) for t, r in rules.tenants.items()}}


def parse_kinds(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{path}: a list of alert kinds")
    unknown = [k for k in value if k not in KINDS]
    if unknown:
        raise ConfigError(f"{path}: unknown alert kind {unknown[0]!r}; kinds: {', '.join(KINDS)}")
    return tuple(value)


def parse_webhook(data: Any, path: str) -> Webhook:
    data = _mapping(data, path)
    unknown = sorted(set(data) - _HOOK_FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    hook_id, url = data.get("id"), data.get("url")
    if not isinstance(hook_id, str) or not _ID.match(hook_id):
        raise ConfigError(f"{path}.id: letters, digits, '.', '_' and '-' (at most 64)")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}.url: an http(s) URL")
    secret = data.get("secret")
    if data.get("secret_env") is not None:
        secret = os.environ.get(str(data["secret_env"]))
        if not secret:
            raise ConfigError(f"{path}.secret_env: the environment variable {data['secret_env']} is not set")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ConfigError(f"{path}: give secret_env (or secret, demo only) of at least 16 characters")
    tenant = data.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise ConfigError(f"{path}.tenant: a tenant id")
    return Webhook(hook_id, url, secret, tenant, parse_kinds(data.get("kinds"), f"{path}.kinds"))


def hook_doc(hook: Webhook) -> dict[str, Any]:
    return {**hook.public(), "secret": hook.secret}


def hook_of(doc: dict[str, Any]) -> Webhook:
    return Webhook(doc["id"], doc["url"], doc["secret"], doc.get("tenant"), tuple(doc.get("kinds") or ()),
                   bool(doc.get("active", True)))  # fmt: skip


def parse_section(data: Any, path: str = "catalog.alerts") -> tuple[tuple[str, ...], list[Webhook], AlertRules]:
    data = _mapping(data, path)
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    allow = data.get("allowlist") or []
    if not isinstance(allow, list) or not all(isinstance(a, str) and a for a in allow):
        raise ConfigError(f"{path}.allowlist: a list of hosts, *.domains or networks")
    hooks_data = data.get("webhooks") or []
    if not isinstance(hooks_data, list):
        raise ConfigError(f"{path}.webhooks: must be a list")
    hooks = [parse_webhook(h, f"{path}.webhooks[{i}]") for i, h in enumerate(hooks_data)]
    return tuple(allow), hooks, parse_rules(data.get("low_balance"), f"{path}.low_balance")

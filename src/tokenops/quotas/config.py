"""End-user quotas as configured: each consumer tenant's defaults (catalog `policies.end_user_quotas`, or
the admin API) and per-end-user overrides.

A quota counts one end user's tokens or money per UTC day or month. A hard quota refuses what
would pass it (429 for tokens, 402 for money); a soft one only alerts at 80% and 100%.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tokenops.charging.money import format_amount, parse_amount
from tokenops.errors import ConfigError

Period = Literal["day", "month"]
Mode = Literal["hard", "soft"]
PERIODS: tuple[str, ...] = ("day", "month")
MODES: tuple[str, ...] = ("hard", "soft")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_QUOTA_FIELDS = {"name", "period", "tokens", "amount", "mode", "unlimited"}
_POLICY_FIELDS = {"quotas", "require_end_user", "currency"}
MAX_QUOTAS = 8  # per tenant or end user: each is a counter per active end user


@dataclass(frozen=True, slots=True)
class Quota:
    name: str
    period: Period
    tokens: int | None = None  # a token quota (input + output tokens)
    amount: int | None = None  # a money quota, in accounting units
    mode: Mode = "hard"

    @property
    def limit(self) -> int:
        return self.tokens if self.tokens is not None else self.amount or 0

    @property
    def counts_tokens(self) -> bool:
        return self.tokens is not None

    @property
    def code(self) -> str:
        """The error code a refusal names: which kind of quota, over which period."""
        period = "daily" if self.period == "day" else "monthly"
        return f"end_user_{period}_{'token' if self.counts_tokens else 'money'}_quota"


@dataclass(frozen=True, slots=True)
class TenantQuotas:
    quotas: tuple[Quota, ...] = ()
    require_end_user: bool = False  # refuse (400) a request that names no end user
    currency: str = "CNY"


def _quota(data: Any, path: str, currency: str, partial: bool) -> Quota | str:
    """A quota; for an override (`partial`), only its name when it is marked `unlimited`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    unknown = sorted(set(data) - _QUOTA_FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{path}.name: letters, digits, '.', '_' and '-' (at most 64)")
    if data.get("unlimited") is not None:
        if data["unlimited"] is not True or not partial or len(data) != 2:
            raise ConfigError(f"{path}.unlimited: only an end user's override says 'unlimited: true', alone")
        return name
    period = data.get("period")
    if period not in PERIODS:
        raise ConfigError(f"{path}.period: must be one of {', '.join(PERIODS)}, got {period!r}")
    mode = data.get("mode", "hard")
    if mode not in MODES:
        raise ConfigError(f"{path}.mode: must be one of {', '.join(MODES)}, got {mode!r}")
    tokens, amount = data.get("tokens"), data.get("amount")
    if (tokens is None) == (amount is None):
        raise ConfigError(f"{path}: give exactly one of tokens or amount")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 < tokens < 2**53):
        raise ConfigError(f"{path}.tokens: must be a positive integer")
    units = parse_amount(amount, currency, f"{path}.amount") if amount is not None else None
    if units is not None and not 0 < units < 2**62:
        raise ConfigError(f"{path}.amount: must be a positive amount")
    return Quota(name, period, tokens, units, mode)


def parse_quotas(data: Any, path: str, currency: str = "CNY", partial: bool = False) -> list[Quota | str]:
    if not isinstance(data, list):
        raise ConfigError(f"{path}: must be a list")
    if len(data) > MAX_QUOTAS:
        raise ConfigError(f"{path}: at most {MAX_QUOTAS} quotas")
    found = [_quota(q, f"{path}[{i}]", currency, partial) for i, q in enumerate(data)]
    names = [q if isinstance(q, str) else q.name for q in found]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{path}[{i}].name: duplicate quota name {name!r}")
    return found


def parse_tenant_quotas(data: Any, path: str) -> TenantQuotas:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    unknown = sorted(set(data) - _POLICY_FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    currency = data.get("currency", "CNY")
    if not isinstance(currency, str) or not re.match(r"^[A-Z]{3}$", currency):
        raise ConfigError(f"{path}.currency: a three-letter currency code")
    require = data.get("require_end_user", False)
    if not isinstance(require, bool):
        raise ConfigError(f"{path}.require_end_user: must be true or false")
    quotas = [q for q in parse_quotas(data.get("quotas") or [], f"{path}.quotas", currency) if isinstance(q, Quota)]
    return TenantQuotas(tuple(quotas), require, currency)


def parse_policies(data: Any, path: str = "catalog.policies.end_user_quotas") -> dict[str, TenantQuotas]:
    """The catalog section: tenant -> its default quotas."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of tenant to its end users' quotas")
    return {str(t): parse_tenant_quotas(d, f"{path}.{t}") for t, d in data.items()}


def quota_doc(quota: Quota, currency: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": quota.name, "period": quota.period, "mode": quota.mode}
    if quota.tokens is not None:
        doc["tokens"] = quota.tokens
    else:
        doc["amount"] = format_amount(quota.limit, currency)
    return doc


def tenant_doc(policy: TenantQuotas) -> dict[str, Any]:
    return {
        "quotas": [quota_doc(q, policy.currency) for q in policy.quotas],
        "require_end_user": policy.require_end_user,
        "currency": policy.currency,
    }


def merged(defaults: tuple[Quota, ...], override: list[Quota | str] | None) -> tuple[Quota, ...]:
    """An end user's quotas: the tenant's defaults, each replaced (or lifted, `unlimited`) by the override's
    quota of the same name; the override's other quotas added."""
    if not override:
        return defaults
    by_name = {q if isinstance(q, str) else q.name: q for q in override}
    kept = [by_name.get(q.name, q) for q in defaults]
    names = {q.name for q in defaults}
    kept += [q for n, q in by_name.items() if n not in names]
    return tuple(q for q in kept if isinstance(q, Quota))

"""The catalog's `limits` section: rate-limit rules, priority classes and deployment capacity.

Parsed into a frozen `LimitsConfig`; every error names the offending field. The same
document is what the admin API reads and replaces at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from tokenops.errors import ConfigError

Scope = Literal["key", "tenant", "model", "end_user"]
SCOPES: tuple[str, ...] = ("key", "tenant", "model", "end_user")
CLASSES: tuple[str, ...] = ("gold", "silver", "bronze")  # highest first
_RULE_FIELDS = {"name", "tenant", "model", "per", "rpm", "tpm", "concurrency"}
_SECTIONS = {"rules", "classes", "capacity", "shares", "queue_ms", "default_class", "outage"}
OutageMode = Literal["fail_closed", "local"]
OUTAGE_MODES: tuple[str, ...] = ("fail_closed", "local")
_OUTAGE_FIELDS = {"default", "classes", "tenants"}


@dataclass(frozen=True, slots=True)
class LimitRule:
    name: str
    per: Scope
    tenant: str | None = None  # None: every tenant
    model: str | None = None  # None: every model
    rpm: int = 0  # 0: no limit
    tpm: int = 0
    concurrency: int = 0

    def applies(self, tenant: str, model: str) -> bool:
        return (self.tenant is None or self.tenant == tenant) and (self.model is None or self.model == model)


@dataclass(frozen=True, slots=True)
class OutageRule:
    """What a tenant gets while the counter store (Redis) is unreachable.

    `fail_closed` refuses whatever needs the store; `local` falls back to this replica's own
    counters, and spends at most `credit` (major units, per replica and outage) beyond its lease.
    """

    mode: OutageMode = "fail_closed"
    credit: str = "0"


@dataclass(frozen=True, slots=True)
class OutageConfig:
    default: OutageRule = field(default_factory=OutageRule)
    classes: dict[str, OutageRule] = field(default_factory=dict)  # priority class -> rule
    tenants: dict[str, OutageRule] = field(default_factory=dict)  # tenant -> rule (before its class)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    rules: tuple[LimitRule, ...] = ()
    classes: dict[str, str] = field(default_factory=dict)  # tenant -> class
    capacity: dict[str, int] = field(default_factory=dict)  # deployment -> concurrent requests
    shares: dict[str, float] = field(default_factory=dict)  # class -> guaranteed share of a deployment
    queue_ms: dict[str, int] = field(default_factory=lambda: {"gold": 5000, "silver": 1000, "bronze": 250})
    default_class: str = "silver"
    outage: OutageConfig = field(default_factory=OutageConfig)

    def class_of(self, tenant: str) -> str:
        return self.classes.get(tenant, self.default_class)

    def outage_for(self, tenant: str) -> OutageRule:
        """The tenant's counter-store outage rule: its own, else its class's, else the default."""
        found = self.outage.tenants.get(tenant) or self.outage.classes.get(self.class_of(tenant))
        return found or self.outage.default


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path}: must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ConfigError(f"{path}: must not be negative")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: must be a non-empty string")
    return value


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: must be a mapping")
    return value


def _class(value: Any, path: str) -> str:
    if value not in CLASSES:
        raise ConfigError(f"{path}: must be one of {', '.join(CLASSES)}, got {value!r}")
    return str(value)


def _rule(data: Any, path: str) -> LimitRule:
    data = _mapping(data, path)
    unknown = sorted(set(data) - _RULE_FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    per = data.get("per")
    if per not in SCOPES:
        raise ConfigError(f"{path}.per: must be one of {', '.join(SCOPES)}, got {per!r}")
    tenant = _text(data["tenant"], f"{path}.tenant") if data.get("tenant") is not None else None
    model = _text(data["model"], f"{path}.model") if data.get("model") is not None else None
    rule = LimitRule(
        name=_text(data.get("name") or f"{tenant or 'all'}/{model or 'all'}/{per}", f"{path}.name"),
        per=per,
        tenant=tenant,
        model=model,
        rpm=_int(data.get("rpm", 0), f"{path}.rpm"),
        tpm=_int(data.get("tpm", 0), f"{path}.tpm"),
        concurrency=_int(data.get("concurrency", 0), f"{path}.concurrency"),
    )
    if not (rule.rpm or rule.tpm or rule.concurrency):
        raise ConfigError(f"{path}: give at least one of rpm, tpm, concurrency")
    return rule


def _outage_rule(data: Any, path: str) -> OutageRule:
    if isinstance(data, str):
        data = {"mode": data}
    data = _mapping(data, path)
    unknown = sorted(set(data) - {"mode", "outage_credit"})
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    mode = data.get("mode", "fail_closed")
    if mode not in OUTAGE_MODES:
        raise ConfigError(f"{path}.mode: must be one of {', '.join(OUTAGE_MODES)}, got {mode!r}")
    credit = data.get("outage_credit", "0")
    if isinstance(credit, (bool, float)) or not isinstance(credit, (str, int)):
        raise ConfigError(f"{path}.outage_credit: write money as a string or integer, e.g. '50.00'")
    try:
        amount = Decimal(str(credit))
    except InvalidOperation:
        raise ConfigError(f"{path}.outage_credit: not a decimal amount: {credit!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{path}.outage_credit: must be a non-negative amount")
    if amount and mode == "fail_closed":
        raise ConfigError(f"{path}.outage_credit: only a tenant in mode local may spend during an outage")
    return OutageRule(mode, str(credit))


def _outage(data: Any, path: str) -> OutageConfig:
    data = _mapping(data, path)
    unknown = sorted(set(data) - _OUTAGE_FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    default = _outage_rule(data.get("default", "fail_closed"), f"{path}.default")
    classes = {
        _class(c, f"{path}.classes"): _outage_rule(r, f"{path}.classes.{c}")
        for c, r in _mapping(data.get("classes"), f"{path}.classes").items()
    }
    tenants = {
        _text(t, f"{path}.tenants"): _outage_rule(r, f"{path}.tenants.{t}")
        for t, r in _mapping(data.get("tenants"), f"{path}.tenants").items()
    }
    return OutageConfig(default, classes, tenants)


def _outage_doc(rule: OutageRule) -> dict[str, Any]:
    return {"mode": rule.mode} | ({"outage_credit": rule.credit} if rule.mode == "local" else {})


def parse_limits(data: Any, path: str = "catalog.limits") -> LimitsConfig:
    data = _mapping(data, path)
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    rules_data = data.get("rules") or []
    if not isinstance(rules_data, list):
        raise ConfigError(f"{path}.rules: must be a list")
    rules = tuple(_rule(r, f"{path}.rules[{i}]") for i, r in enumerate(rules_data))
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{path}.rules[{i}].name: duplicate rule name {name!r}")
    classes = {
        _text(t, f"{path}.classes"): _class(c, f"{path}.classes.{t}")
        for t, c in _mapping(data.get("classes"), f"{path}.classes").items()
    }
    capacity = {
        _text(d, f"{path}.capacity"): _int(n, f"{path}.capacity.{d}")
        for d, n in _mapping(data.get("capacity"), f"{path}.capacity").items()
    }
    shares: dict[str, float] = {}
    for c, share in _mapping(data.get("shares"), f"{path}.shares").items():
        _class(c, f"{path}.shares")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ConfigError(f"{path}.shares.{c}: must be a fraction between 0 and 1")
        shares[c] = float(share)
    if sum(shares.values()) > 1.0:
        raise ConfigError(f"{path}.shares: the guaranteed shares add up to more than 1")
    queue_ms = dict(LimitsConfig().queue_ms)
    for c, ms in _mapping(data.get("queue_ms"), f"{path}.queue_ms").items():
        queue_ms[_class(c, f"{path}.queue_ms")] = min(_int(ms, f"{path}.queue_ms.{c}"), 60_000)
    default = _class(data.get("default_class", "silver"), f"{path}.default_class")
    outage = _outage(data.get("outage"), f"{path}.outage")
    return LimitsConfig(rules, classes, capacity, shares, queue_ms, default, outage)


def limits_doc(config: LimitsConfig) -> dict[str, Any]:
    """The config as the document the store keeps and the admin API shows."""
    rules = []
    for r in config.rules:
        rule: dict[str, Any] = {"name": r.name, "per": r.per}
        rule.update({k: v for k, v in (("tenant", r.tenant), ("model", r.model)) if v is not None})
        rule.update({k: v for k, v in (("rpm", r.rpm), ("tpm", r.tpm), ("concurrency", r.concurrency)) if v})
        rules.append(rule)
    doc: dict[str, Any] = {
        "rules": rules,
        "classes": dict(config.classes),
        "capacity": dict(config.capacity),
        "shares": dict(config.shares),
        "queue_ms": dict(config.queue_ms),
        "default_class": config.default_class,
    }
    if config.outage != OutageConfig():
        doc["outage"] = {
            "default": _outage_doc(config.outage.default),
            "classes": {c: _outage_doc(r) for c, r in config.outage.classes.items()},
            "tenants": {t: _outage_doc(r) for t, r in config.outage.tenants.items()},
        }
    return doc

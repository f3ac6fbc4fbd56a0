"""The catalog's `policies.extraction` section: what to do about suspected bulk extraction, per tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tokenops.errors import ConfigError

Action = Literal["record", "alert", "throttle", "suspend"]
ACTIONS: tuple[str, ...] = ("record", "alert", "throttle", "suspend")
_FIELDS = {
    "default",
    "tenants",
    "threshold",
    "velocity_window_s",
    "velocity_factor",
    "velocity_floor_tpm",
    "enumeration_window",
    "enumeration_share",
    "ratio_factor",
    "ratio_min_requests",
    "max_addresses",
    "distillation_share",
    "distribution_min",
    "harvest_tpm",
    "harvest_window_s",
}


@dataclass(frozen=True, slots=True)
class ExtractionPolicy:
    default: Action = "throttle"
    tenants: dict[str, Action] = field(default_factory=dict)
    threshold: float = 0.7  # events scoring at least this trigger the action
    velocity_window_s: float = 60.0
    velocity_factor: float = 8.0  # output tokens/min against the median of the tenant's other active keys
    velocity_floor_tpm: int = 20_000  # ... and never below this
    enumeration_window: int = 30  # prompts each new one is compared with
    enumeration_share: float = 0.6  # share of near-duplicates (a template's variations) in the window
    ratio_factor: float = 6.0
    ratio_min_requests: int = 20
    max_addresses: int = 16
    distillation_share: float = 0.5  # mean distillation weight of a key's last 24 requests
    distribution_min: int = 24  # requests in a window before the window test runs
    harvest_tpm: int = 8000  # one-shot, answer-heavy output tokens per minute no person reads (sustained)
    harvest_window_s: float = 300.0

    def action_for(self, tenant: str) -> Action:
        return self.tenants.get(tenant, self.default)


def _action(value: Any, path: str) -> Action:
    if value not in ACTIONS:
        raise ConfigError(f"{path}: must be one of {', '.join(ACTIONS)}, got {value!r}")
    return value  # type: ignore[no-any-return]


def parse_policy(data: Any, path: str = "catalog.policies.extraction") -> ExtractionPolicy:
    if data is None:
        return ExtractionPolicy()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field")
    tenants = data.get("tenants") or {}
    if not isinstance(tenants, dict):
        raise ConfigError(f"{path}.tenants: must be a mapping of tenant to action")
    values: dict[str, Any] = {
        "default": _action(data.get("default", "throttle"), f"{path}.default"),
        "tenants": {str(t): _action(a, f"{path}.tenants.{t}") for t, a in tenants.items()},
    }
    defaults = ExtractionPolicy()
    for name in _FIELDS - {"default", "tenants"}:
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{path}.{name}: must be a positive number")
            values[name] = type(getattr(defaults, name))(value)
    return ExtractionPolicy(**values)

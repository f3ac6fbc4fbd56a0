"""What `tokenops check-config` checks of the catalog's end-user quotas and alerts sections."""

from __future__ import annotations

from typing import Any

from tokenops.alerts.service import checked_section
from tokenops.quotas import parse_policies


def check_ops_sections(raw: dict[str, Any]) -> None:
    """Raise ConfigError naming the field when `policies.end_user_quotas` or `alerts` is invalid."""
    policies = raw.get("policies") or {}
    parse_policies(policies.get("end_user_quotas") if isinstance(policies, dict) else None)
    checked_section(raw.get("alerts"))

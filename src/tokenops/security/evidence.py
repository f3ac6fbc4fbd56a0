"""One line an operator reads for each security event, from the detector's evidence."""

from __future__ import annotations

from typing import Any


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, (int, float)) else "?"


def summary(detector: str, e: dict[str, Any]) -> str:
    if detector == "enumeration":
        return (f"{_pct(e.get('enumeration_share'))} of the last {e.get('window')} prompts vary one template "
                "and are answered at length")  # fmt: skip
    if detector == "distillation":
        cues = ", ".join(e.get("cues_last_seen") or []) or "reasoning"
        return (
            f"{_pct(e.get('distillation_share'))} of the last {e.get('window')} prompts look like distillation ({cues})"
        )
    if detector == "distribution":
        moved = ", ".join(f"{k} {v:+.2f}" for k, v in (e.get("departures") or {}).items())
        return (f"last {e.get('window')} prompts unlike any benign traffic (MMD² {e.get('mmd2')} > "
                f"{e.get('benign_limit')}; nearest {e.get('nearest_benign')}): {moved}")  # fmt: skip
    if detector == "velocity":
        return (f"{e.get('output_tokens_per_min')} output tokens/min against a median of "
                f"{e.get('peer_median_per_min')} for the {e.get('compared_with')}'s other active keys "
                f"({_pct(e.get('tenant_output_share'))} of the tenant's output)")  # fmt: skip
    if detector == "output_ratio":
        return f"output/input {e.get('key_ratio')} against the tenant's {e.get('tenant_norm')}"
    if detector == "many_addresses":
        return f"used from {e.get('addresses')} addresses in {e.get('window_s'):g} s"
    if detector == "corroborated":
        return "several weaker signs at once: " + ", ".join(f"{k} {v}" for k, v in (e.get("signs") or {}).items())
    if detector == "cluster":
        return (f"{e.get('key_count')} keys of {', '.join(e.get('tenants') or [])} behave alike "
                f"({'; '.join(e.get('linked_by') or [])}); as one: {e.get('test')}")  # fmt: skip
    return detector

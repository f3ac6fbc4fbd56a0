"""Traffic detectors: a key's output velocity and output/input ratio against its tenant's other keys, and one
key used from many addresses.

Peers are compared from a key's first request: its rate counts over its own short life, the
others' over the last minute, so a new key has no warm-up. A tenant with no other active key is
compared with the platform's active keys. Medians are recomputed at most once a second and from
a bounded sample, so a tenant with thousands of keys costs no scan per request.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from tokenops.security.content import SIGN_ONLY
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.subject import Finding, KeyState, Observation

ADDRESS_WINDOW_S = 600.0
REFRESH_S = 1.0
SAMPLE = 256  # keys a median is taken over, at most


class Norms:
    """Per-tenant and platform-wide snapshots of active keys' output rates (tokens/min) and ratios."""

    def __init__(self) -> None:
        self._rates: dict[str, tuple[float, dict[str, float]]] = {}  # tenant -> (valid until, key -> rate)
        self._platform: tuple[float, list[float]] = (0.0, [])
        self._ratios: dict[str, tuple[float, float | None]] = {}

    def tenant_rates(
        self, tenant: str, keys: Iterable[tuple[str, KeyState]], now: float, span_s: float
    ) -> dict[str, float]:
        cached = self._rates.get(tenant)
        if cached is not None and cached[0] > now:
            return cached[1]
        rates: dict[str, float] = {}
        for key_id, state in keys:
            if state.last_at > now - span_s:
                rates[key_id] = state.rate(now)
                if len(rates) >= SAMPLE:
                    break
        self._rates[tenant] = (now + REFRESH_S, rates)
        return rates

    def platform(self, all_keys: Iterable[KeyState], now: float, span_s: float) -> list[float]:
        until, rates = self._platform
        if until > now:
            return rates
        rates = []
        for state in all_keys:
            if state.last_at > now - span_s:
                rates.append(state.rate(now))
                if len(rates) >= 4 * SAMPLE:
                    break
        self._platform = (now + REFRESH_S, rates)
        return rates

    def ratio(self, tenant: str, keys: Iterable[KeyState], now: float) -> float | None:
        cached = self._ratios.get(tenant)
        if cached is not None and cached[0] > now:
            return cached[1]
        ratios = [s.ratio for s in keys if s.requests >= 5][:SAMPLE]
        median = statistics.median(ratios) if len(ratios) >= 2 else None
        self._ratios[tenant] = (now + REFRESH_S, median)
        return median


def velocity(
    s: KeyState, obs: Observation, policy: ExtractionPolicy, tenant_rates: dict[str, float], platform: list[float]
) -> Finding | None:
    rate = s.rate(obs.at)
    others = [r for k, r in tenant_rates.items() if k != obs.key]
    against = "tenant"
    if not others:
        others, against = platform, "platform"
    norm = statistics.median(others) if others else 0.0
    floor = float(policy.velocity_floor_tpm)  # per minute, as the rates are
    limit = max(policy.velocity_factor * norm, floor)
    s.scores["velocity"] = min(SIGN_ONLY, 0.7 * rate / limit)
    if rate < limit:
        return None
    total = sum(tenant_rates.values()) + (0.0 if obs.key in tenant_rates else rate)
    evidence = {
        "output_tokens_per_min": round(rate),
        "peer_median_per_min": round(norm),
        "compared_with": against,
        "peers": len(others),
        "tenant_output_share": round(rate / total, 3) if total else 1.0,
        "key_age_s": round(obs.at - s.first_at, 1),
    }
    # agents and batch jobs outpace their tenant's other keys by design: a sign to corroborate, never enough
    # alone (the harvest test is the absolute one)
    return Finding("velocity", s.scores["velocity"], evidence)


def harvest(s: KeyState, obs: Observation, policy: ExtractionPolicy) -> Finding | None:
    """One-shot questions whose answers outweigh them, consumed faster than people read: a person reads a
    few hundred words a minute; an app's many users are explained by its end-user spread; agents and batch
    jobs are not one-shot or not answer-heavy. Sustained over HARVEST_S, or over a new key's first minute."""
    rate = s.harvest_rate(obs.at)
    s.scores["harvest"] = 0.7 * rate / policy.harvest_tpm
    if rate < policy.harvest_tpm or s.harvest.count < 8:
        return None
    evidence = {
        "harvest_tokens_per_min": round(rate),
        "limit_per_min": policy.harvest_tpm,
        "window_s": policy.harvest_window_s,
        "harvest_requests": s.harvest.count,
        "key_age_s": round(obs.at - s.first_at, 1),
    }
    return Finding("harvest", min(1.0, s.scores["harvest"]), evidence)


def output_ratio(s: KeyState, obs: Observation, policy: ExtractionPolicy, median: float | None) -> Finding | None:
    if s.requests < policy.ratio_min_requests or median is None:
        return None
    norm = max(median, 0.05)
    limit = policy.ratio_factor * norm
    s.scores["output_ratio"] = 0.7 * s.ratio / limit
    if s.ratio < limit:
        return None
    evidence = {"key_ratio": round(s.ratio, 3), "tenant_norm": round(norm, 3), "requests": s.requests}
    # answers long against questions are many honest people's use: a sign to corroborate, never enough alone
    return Finding("output_ratio", min(SIGN_ONLY, s.scores["output_ratio"]), evidence)


def update_ratio(s: KeyState, obs: Observation) -> None:
    if obs.input_tokens <= 0 and obs.output_tokens <= 0:
        return
    value = obs.output_tokens / max(obs.input_tokens, 1)
    s.ratio = value if s.requests <= 1 else 0.9 * s.ratio + 0.1 * value


def addresses(s: KeyState, obs: Observation, policy: ExtractionPolicy) -> Finding | None:
    if obs.client is None:
        return None
    s.addresses[obs.client] = obs.at
    if len(s.addresses) <= policy.max_addresses:
        return None
    s.addresses = {a: t for a, t in s.addresses.items() if t > obs.at - ADDRESS_WINDOW_S}
    count = len(s.addresses)
    if count <= policy.max_addresses:
        return None
    sample = sorted(s.addresses, key=s.addresses.__getitem__)[-5:]
    evidence = {"addresses": count, "window_s": ADDRESS_WINDOW_S, "latest": sample}
    return Finding("many_addresses", min(1.0, 0.7 * count / policy.max_addresses), evidence)

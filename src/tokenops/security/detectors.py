"""Bulk-extraction detectors: each looks at one key's traffic against a baseline and scores it.

(a) output-token velocity against the key's own history, (b) templated, near-duplicate
prompts with systematic variation, (c) output/input ratio against the tenant's other keys,
(d) one key used from many client addresses. Only sketches and counts are kept, never text.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tokenops.security.policy import ExtractionPolicy
from tokenops.security.sketch import similarity

NEAR = 0.5  # sketches at least this similar, yet not identical, are variations of one template
ADDRESS_WINDOW_S = 600.0
NORM_REFRESH_S = 1.0


@dataclass(frozen=True, slots=True)
class Observation:
    at: float
    tenant: str
    key: str
    input_tokens: int
    output_tokens: int
    sketch: frozenset[int] | None = None
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    detector: str
    score: float
    evidence: dict[str, Any]


@dataclass(slots=True)
class _KeyStats:
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # (time, output tokens) in the window
    recent_sum: int = 0  # output tokens in `recent`, kept as it changes: O(1) a request
    window_index: int = -1
    window_sum: int = 0
    baseline: float | None = None  # output tokens per window, averaged over past windows
    sketches: deque[frozenset[int]] = field(default_factory=deque)
    ratio: float = 0.0
    requests: int = 0
    addresses: dict[str, float] = field(default_factory=dict)


class Detectors:
    def __init__(self) -> None:
        self._keys: dict[str, _KeyStats] = {}
        self._tenant_keys: dict[str, set[str]] = {}
        self._norms: dict[str, tuple[float, float | None]] = {}

    def observe(self, obs: Observation, policy: ExtractionPolicy) -> list[Finding]:
        stats = self._keys.get(obs.key)
        if stats is None:
            stats = self._keys[obs.key] = _KeyStats()
            self._tenant_keys.setdefault(obs.tenant, set()).add(obs.key)
        found = [
            self._velocity(stats, obs, policy),
            self._enumeration(stats, obs, policy),
            self._ratio(stats, obs, policy),
            self._addresses(stats, obs, policy),
        ]
        return [f for f in found if f is not None]

    def _velocity(self, s: _KeyStats, obs: Observation, policy: ExtractionPolicy) -> Finding | None:
        window = policy.velocity_window_s
        index = int(obs.at // window)
        if index != s.window_index:
            if s.window_index >= 0:  # a window closed: fold it into the baseline (empty ones count too)
                closed = [s.window_sum] + [0] * min(index - s.window_index - 1, 5)
                for total in closed:
                    s.baseline = total if s.baseline is None else 0.7 * s.baseline + 0.3 * total
            s.window_index, s.window_sum = index, 0
        s.window_sum += obs.output_tokens
        s.recent.append((obs.at, obs.output_tokens))
        s.recent_sum += obs.output_tokens
        while s.recent and s.recent[0][0] <= obs.at - window:
            s.recent_sum -= s.recent.popleft()[1]
        rate = s.recent_sum
        floor = policy.velocity_floor_tpm * window / 60.0
        limit = max(policy.velocity_factor * s.baseline, floor) if s.baseline is not None else 2 * floor
        if rate < limit:
            return None
        evidence = {"output_tokens_in_window": rate, "window_s": window, "baseline": s.baseline, "limit": limit}
        return Finding("velocity", min(1.0, 0.7 * rate / limit), evidence)

    def _enumeration(self, s: _KeyStats, obs: Observation, policy: ExtractionPolicy) -> Finding | None:
        if obs.sketch is None:
            return None
        sims = [similarity(obs.sketch, prev) for prev in s.sketches]
        s.sketches.append(obs.sketch)
        while len(s.sketches) > policy.enumeration_window:
            s.sketches.popleft()
        if len(sims) < max(8, policy.enumeration_window // 2):
            return None
        near = sum(1 for x in sims if NEAR <= x < 1.0)
        share = near / len(sims)
        if share < policy.enumeration_share:
            return None
        evidence = {
            "window": len(sims),
            "near_duplicate_share": round(share, 3),
            "exact_repeats": sum(1 for x in sims if x >= 1.0),
            "median_similarity": round(statistics.median(sims), 3),
        }
        return Finding("enumeration", min(1.0, 0.5 + 0.5 * share), evidence)

    def _ratio(self, s: _KeyStats, obs: Observation, policy: ExtractionPolicy) -> Finding | None:
        if obs.input_tokens <= 0 and obs.output_tokens <= 0:
            return None
        value = obs.output_tokens / max(obs.input_tokens, 1)
        s.requests += 1
        s.ratio = value if s.requests == 1 else 0.9 * s.ratio + 0.1 * value
        if s.requests < policy.ratio_min_requests:
            return None
        median = self._tenant_norm(obs.tenant, obs.at)
        if median is None:
            return None
        norm = max(median, 0.05)
        limit = policy.ratio_factor * norm
        if s.ratio < limit:
            return None
        evidence = {"key_ratio": round(s.ratio, 3), "tenant_norm": round(norm, 3), "requests": s.requests}
        return Finding("output_ratio", min(1.0, 0.7 * s.ratio / limit), evidence)

    def _tenant_norm(self, tenant: str, now: float) -> float | None:
        """The median output/input ratio of the tenant's keys, recomputed at most once a second:
        a tenant with thousands of keys must not cost a scan of them on every request."""
        cached = self._norms.get(tenant)
        if cached is not None and cached[0] > now:
            return cached[1]
        ratios = [self._keys[k].ratio for k in self._tenant_keys.get(tenant, ()) if self._keys[k].requests >= 5]
        median = statistics.median(ratios) if len(ratios) >= 2 else None
        self._norms[tenant] = (now + NORM_REFRESH_S, median)
        return median

    def _addresses(self, s: _KeyStats, obs: Observation, policy: ExtractionPolicy) -> Finding | None:
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

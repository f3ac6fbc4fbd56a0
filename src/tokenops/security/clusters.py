"""Keys that behave alike, so that a scrape spread over many keys (or tenants) is judged as one.

Keys are linked when they share a client address (across tenants too) or were created together
(same tenant, through the admin API, within CREATED_S of each other); a linked group is then split
into keys whose windows are alike (their bin shares close to the group's). Found in a sweep every
SWEEP_S over the keys active in the last ACTIVE_S, bounded in keys and in addresses remembered.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from tokenops.security.subject import KeyState
from tokenops.security.window import distance

ACTIVE_S = 600.0
CREATED_S = 120.0
SWEEP_S = 2.0
ALIKE = 0.3  # MMD squared between a member's window and the group's pooled shares
MIN_MEMBER_N = 4
MAX_KEYS = 4096
KEYS_PER_ADDRESS = 64


class Links:
    def __init__(self) -> None:
        self.by_address: dict[str, dict[str, float]] = {}  # address -> key -> last seen
        self.created: dict[str, tuple[str, float]] = {}  # key -> (tenant, created at, s); admin-API keys only

    def note(self, key: str, client: str | None, at: float) -> None:
        if client is None:
            return
        seen = self.by_address.get(client)
        if seen is None:
            seen = self.by_address[client] = {}
        seen[key] = at
        if len(seen) > KEYS_PER_ADDRESS:
            del seen[min(seen, key=seen.__getitem__)]

    def forget_before(self, cutoff: float) -> None:
        for address in list(self.by_address):
            seen = {k: t for k, t in self.by_address[address].items() if t > cutoff}
            if seen:
                self.by_address[address] = seen
            else:
                del self.by_address[address]

    def groups(self, keys: dict[str, KeyState], now: float) -> list[tuple[list[str], list[str]]]:
        """Groups of two or more active keys that are linked and alike, each with what links them."""
        self.forget_before(now - ACTIVE_S)
        active = {k for k, s in keys.items() if s.last_at > now - ACTIVE_S and s.window.n >= MIN_MEMBER_N}
        if len(active) > MAX_KEYS:
            active = set(sorted(active, key=lambda k: -keys[k].last_at)[:MAX_KEYS])
        parent = {k: k for k in active}
        why: dict[str, set[str]] = {}

        def root(k: str) -> str:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        def link(members: Iterable[str], reason: str) -> None:
            present = [m for m in members if m in parent]
            for other in present[1:]:
                a, b = root(present[0]), root(other)
                if a != b:
                    parent[b] = a
            for m in present if len(present) > 1 else ():
                why.setdefault(m, set()).add(reason)

        for address, seen in self.by_address.items():
            link(seen, f"address {address}")
        by_tenant: dict[str, list[tuple[float, str]]] = {}
        for key, (tenant, created) in self.created.items():
            by_tenant.setdefault(tenant, []).append((created, key))
        for tenant, made in by_tenant.items():
            made.sort()
            for (t0, k0), (t1, k1) in pairwise(made):
                if t1 - t0 <= CREATED_S:
                    link((k0, k1), f"created together in {tenant}")
        components: dict[str, list[str]] = {}
        for k in active:
            components.setdefault(root(k), []).append(k)
        found = []
        for members in components.values():
            alike = _alike(members, keys) if len(members) > 1 else []
            if len(alike) > 1:
                found.append((sorted(alike), sorted({r for m in alike for r in why.get(m, ())})))
        return found


def _alike(members: list[str], keys: dict[str, KeyState]) -> list[str]:
    """The members whose windows lie close to the group's pooled shares (two passes: outliers out, then in)."""
    chosen = members
    for _ in range(2):
        centre = _centre(chosen, keys)
        chosen = [m for m in members if distance(keys[m].window.shares(), centre) <= ALIKE]
        if len(chosen) < 2:
            return []
    return chosen


def _centre(members: list[str], keys: dict[str, KeyState]) -> list[float]:
    total = [0.0] * len(keys[members[0]].window.counts)
    for m in members:
        for i, share in enumerate(keys[m].window.shares()):
            total[i] += share
    return [t / len(members) for t in total]

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
MAX_COMPONENT = 256  # keys of one linked component split into alike groups (the busiest)


class Links:
    def __init__(self) -> None:
        self.by_address: dict[str, dict[str, float]] = {}  # address -> key -> last seen
        self.created: dict[str, tuple[str, float]] = {}  # key -> (tenant, created at, s); admin-API keys only

    def note(self, key: str, client: str | None, at: float) -> None:
        """Remember the key under its client's address and, for IPv4, the address's /24 (a scraper rotating
        through a subnet it rents shares the subnet)."""
        if client is None:
            return
        self._note(client, key, at)
        if client.count(".") == 3:
            self._note(client.rsplit(".", 1)[0] + ".0/24", key, at)

    def _note(self, address: str, key: str, at: float) -> None:
        seen = self.by_address.get(address)
        if seen is None:
            seen = self.by_address[address] = {}
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
            link(seen, f"{'network' if address.endswith('/24') else 'address'} {address}")
        by_tenant: dict[str, list[tuple[float, str]]] = {}
        for key, (tenant, created) in self.created.items():
            by_tenant.setdefault(tenant, []).append((created, key))
        for tenant, made in by_tenant.items():
            made.sort()
            for (t0, k0), (t1, k1) in pairwise(made):
                if t1 - t0 <= CREATED_S:
                    link((k0, k1), f"created together in {tenant}")
        components: dict[str, list[str]] = {}
        for k in sorted(active):
            components.setdefault(root(k), []).append(k)
        found = []
        for members in components.values():
            for alike in _alike(members, keys) if len(members) > 1 else ():
                found.append((sorted(alike), sorted({r for m in alike for r in why.get(m, ())})))
        return found


def _alike(members: list[str], keys: dict[str, KeyState]) -> list[list[str]]:
    """The linked keys split into groups of two or more whose windows lie close together: around the busiest
    key left, those near it; then around their centre, those near that (a scrape and the honest keys behind
    the same address come apart)."""
    left = sorted(members, key=lambda m: (-keys[m].window.n, m))[:MAX_COMPONENT]
    shares = {m: keys[m].window.shares() for m in left}
    groups = []
    while len(left) > 1:
        seed = left[0]
        centre = shares[seed]
        for _ in range(2):
            chosen = [m for m in left if distance(shares[m], centre) <= ALIKE] or [seed]
            centre = [sum(col) / len(chosen) for col in zip(*(shares[m] for m in chosen), strict=True)]
        if len(chosen) > 1:
            groups.append(chosen)
        taken = set(chosen)
        left = [m for m in left if m not in taken and m != seed]
    return groups

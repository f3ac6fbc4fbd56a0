"""Token packages: prepaid bundles of tokens of named models, drawn down before money.

Grants are used earliest-ending first. A grant is usable from its start until its
expiry, and for `rollover_days` more for whatever was left unused at expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenops.charging.catalog import PackageProduct

DAY_MS = 86_400_000


@dataclass(slots=True)
class Grant:
    id: str
    account_id: str
    package_id: str
    models: tuple[str, ...]
    total: int
    used: int
    starts_ms: int
    expires_ms: int
    usable_until_ms: int
    held: int = 0  # tokens reserved by requests in flight (this process only)
    pool: dict[str, int] | None = None  # scaled out: the tokens of each grant leased here (`GrantLeases.held`)

    @property
    def remaining(self) -> int:
        return self.total - self.used

    @property
    def reserved(self) -> int:
        """What requests in flight here hold of it (as its lease pool asks)."""
        return self.held

    @property
    def available(self) -> int:
        """What a request may hold or draw of it here: scaled out, only within what this replica leased of it."""
        free = self.total - self.used - self.held
        if self.pool is not None:
            free = min(free, self.pool.get(self.id, 0) - self.held)
        return free

    def usable(self, model: str, at_ms: int) -> bool:
        return (not self.models or model in self.models) and self.starts_ms <= at_ms < self.usable_until_ms


def grant_of(product: PackageProduct, grant_id: str, account_id: str, starts_ms: int) -> Grant:
    expires = starts_ms + product.valid_days * DAY_MS
    return Grant(
        grant_id,
        account_id,
        product.id,
        product.models,
        product.tokens,
        0,
        starts_ms,
        expires,
        expires + product.rollover_days * DAY_MS,
    )


def grant_meta(grant: Grant) -> dict[str, Any]:
    return {
        "grant_id": grant.id,
        "package": grant.package_id,
        "models": list(grant.models),
        "tokens": grant.total,
        "starts_ms": grant.starts_ms,
        "expires_ms": grant.expires_ms,
        "usable_until_ms": grant.usable_until_ms,
    }


def drawdown_order(grants: list[Grant], model: str, at_ms: int) -> list[Grant]:
    return sorted((g for g in grants if g.usable(model, at_ms)), key=lambda g: (g.usable_until_ms, g.starts_ms, g.id))


def hold_tokens(grants: list[Grant], model: str, at_ms: int, tokens: int) -> dict[str, int]:
    """Reserve up to `tokens` from the usable grants; returns what each grant holds."""
    holds: dict[str, int] = {}
    for grant in drawdown_order(grants, model, at_ms):
        if tokens <= 0:
            break
        take = min(grant.available, tokens)
        if take > 0:
            grant.held += take
            holds[grant.id] = take
            tokens -= take
    return holds


def settle_tokens(grants: dict[str, Grant], holds: dict[str, int], used: int) -> dict[str, int]:
    """Draw `used` tokens from the held grants in hold order; release the rest of every hold."""
    draws: dict[str, int] = {}
    for grant_id, held in holds.items():
        take = min(held, used)
        grant = grants.get(grant_id)
        if grant is not None:
            grant.held -= held
            grant.used += take
        if take:
            draws[grant_id] = take
        used -= take
    return draws


def release_tokens(grants: dict[str, Grant], holds: dict[str, int]) -> None:
    settle_tokens(grants, holds, 0)

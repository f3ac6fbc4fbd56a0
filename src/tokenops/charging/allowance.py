"""A plan's allowance at work: which subscription covers a request, and how its tokens are held and drawn.

Each month of a subscription holds one allowance grant per model group (a `Grant`, as a
package's, whose `package_id` is the subscription). The order a request's tokens are paid
in: the allowance of the subscription that covers it (the key's own, else the tenant's),
then packages, then money (at the plan's overage price where it sets one, else the price
book's), unless the allowance is a hard stop: then packages only, and no money.

An allowance is drawn in the order requests settle: a request draws what it held of it,
then whatever of it nobody holds, so the tokens past the allowance are exactly those
settled after it ran out. That is why, with an overage price, the credit controller holds
money for a request's worst case when the balance can (the allowance is then not held at
all) and holds the allowance only when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenops.charging.budgets import THRESHOLDS, Alert
from tokenops.charging.packages import Grant, hold_tokens, settle_tokens
from tokenops.charging.plans import PlanTerms
from tokenops.charging.prices import Rates


@dataclass(slots=True)
class Subscription:
    id: str
    account_id: str
    key_id: str | None  # a key's own plan, or (None) the tenant's
    terms: PlanTerms
    starts_ms: int
    ends_ms: int | None = None  # set by a cancellation or a change (a scheduled end, or now)

    def active(self, at_ms: int) -> bool:
        return self.starts_ms <= at_ms and (self.ends_ms is None or at_ms < self.ends_ms)


@dataclass(frozen=True, slots=True)
class Cover:
    """What a plan does for one request: its allowance grants to draw, and what is past them."""

    subscription: str
    grants: tuple[str, ...]  # allowance grants usable by the request, this month's
    stop: bool  # a hard stop: nothing past the allowance (and packages) is served
    rates: Rates | None  # the plan's overage price, if it sets one


def grant_id(subscription: str, period: str, group: int) -> str:
    return f"{subscription}/{period}/{group}"


def group_of_grant(grant: str) -> int:
    return int(grant.rsplit("/", 1)[1])


def cover_of(
    subscriptions: dict[str, Subscription], allowances: dict[str, Grant], key_id: str, model: str, at_ms: int,
    currency: str,
) -> Cover | None:  # fmt: skip
    """The cover of a request of `key_id` for `model` started at `at_ms`: the key's own plan if it includes the
    model, else the tenant's; None when no active plan includes it."""
    if not subscriptions:
        return None
    active = [s for s in subscriptions.values() if s.active(at_ms) and s.key_id in (key_id, None)]
    covering = [(s, g) for s in active if (g := s.terms.group_of(model)) is not None]
    if not covering:
        return None
    sub, group = min(covering, key=lambda c: (c[0].key_id is None, c[0].starts_ms))  # the key's own plan first
    grants = tuple(
        g.id for g in sorted(allowances.values(), key=lambda g: (g.usable_until_ms, g.id))
        if g.package_id == sub.id and group_of_grant(g.id) == group and g.usable(model, at_ms)
    )  # fmt: skip
    allowance = sub.terms.allowances[group]
    return Cover(sub.id, grants, allowance.overage == "stop", sub.terms.overage_rates(group, currency))


def free_of(allowances: dict[str, Grant], grants: tuple[str, ...]) -> int:
    return sum(allowances[g].available for g in grants if g in allowances)


def hold_allowance(
    allowances: dict[str, Grant], grants: tuple[str, ...], model: str, at_ms: int, tokens: int
) -> dict[str, int]:
    """Hold up to `tokens` of the allowance (a request that money cannot cover); what each grant holds."""
    return hold_tokens([allowances[g] for g in grants if g in allowances], model, at_ms, tokens)


def draw_allowance(
    allowances: dict[str, Grant], holds: dict[str, int], grants: tuple[str, ...], used: int
) -> dict[str, int]:
    """Draw `used` tokens: what this request held first, then what nobody holds; the rest of its holds goes back."""
    draws = settle_tokens(allowances, holds, used)
    used -= sum(draws.values())
    for grant_id_ in grants:
        grant = allowances.get(grant_id_)
        if used <= 0 or grant is None:
            continue
        take = min(grant.available, used)
        if take > 0:
            grant.used += take
            draws[grant_id_] = draws.get(grant_id_, 0) + take
            used -= take
    return draws


def allowance_alerts(allowances: dict[str, Grant], draws: dict[str, int], at_ms: int) -> list[Alert]:
    """An alert for each allowance these draws took past 80% or 100% of its total, once per crossing.

    They go where budget alerts go (`Budgets.alerts`, stored by the charging upkeep and shown with
    them on the dashboard): `budget_id` is `plan:<subscription>/<model group>`, the subject the tenant,
    the period the allowance's month.
    """
    alerts = []
    for gid, n in draws.items():
        grant = allowances.get(gid)
        if grant is None or grant.total <= 0:
            continue
        before = grant.used - n
        for threshold in THRESHOLDS:
            if before * 100 < threshold * grant.total <= grant.used * 100:
                sub, period, group = gid.split("/")
                alerts.append(Alert(f"plan:{sub}/{group}", grant.account_id, period, threshold, grant.used,
                                    grant.total, at_ms))  # fmt: skip
    return alerts

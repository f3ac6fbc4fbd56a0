"""Plans: monthly recurring allowances of tokens per model group, sold like a mobile plan.

A plan's terms (fee per month, included tokens per model group, what happens past them,
how much of an unused allowance carries into the next month) are parsed here, from the
catalog, the admin API and the snapshot a subscription keeps in its ledger entries. The
arithmetic of a period is here too: every month is a calendar month in UTC, and a
subscription that starts, changes or ends inside one pays and receives its share of it.

Rounding: a fee or a credit is rounded once, half up, to the accounting unit; a prorated
allowance once, half up, to the token. What the invoice bills follows the running-total
rule of `invoice.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tokenops.catalog.load import _Obj
from tokenops.charging.money import parse_amount
from tokenops.charging.price_doc import model_price
from tokenops.charging.prices import ModelPrice, Rates, rates_of
from tokenops.errors import ConfigError
from tokenops.periods import month_bounds, month_of

OVERAGE = ("list", "stop")  # or a price of the plan's own (a mapping, like a price book's model price)


@dataclass(frozen=True, slots=True)
class Allowance:
    """Tokens included per month for a group of models, and what a token past them costs."""

    models: tuple[str, ...]  # empty: every model
    tokens: int  # in a whole month
    overage: str  # list: the price book's price; stop: refused (a hard stop); price: `price` below
    price: ModelPrice | None = None

    def covers(self, model: str) -> bool:
        return not self.models or model in self.models


@dataclass(frozen=True, slots=True)
class PlanTerms:
    id: str
    price: int  # accounting units per whole month
    allowances: tuple[Allowance, ...]
    rollover_percent: int = 0  # of a month's allowance that may carry into the next, if unused
    name: str = ""
    doc: dict[str, Any] = field(default_factory=dict, compare=False)  # as read: a subscription's snapshot

    def group_of(self, model: str) -> int | None:
        """The allowance (its index) that covers `model`: the first that names it, else one for every model."""
        named = [i for i, a in enumerate(self.allowances) if model in a.models]
        if named:
            return named[0]
        return next((i for i, a in enumerate(self.allowances) if not a.models), None)

    def overage_rates(self, group: int, currency: str) -> Rates | None:
        """The plan's own price for tokens past the allowance of `group`, when it sets one."""
        allowance = self.allowances[group]
        if allowance.price is None:
            return None
        return rates_of(allowance.price, f"plan:{self.id}", currency)

    def as_doc(self) -> dict[str, Any]:
        return dict(self.doc)


def _overage(o: _Obj, name: str, default: Any) -> tuple[str, ModelPrice | None]:
    o.seen.add(name)
    value = o.data.get(name, default)
    if isinstance(value, str):
        if value not in OVERAGE:
            raise ConfigError(f"{o.path}.{name}: must be list, stop or a price {{input, output}}, got {value!r}")
        return value, None
    if not isinstance(value, dict):
        raise ConfigError(f"{o.path}.{name}: must be list, stop or a price {{input, output}}")
    price = model_price(_Obj(value, f"{o.path}.{name}"))
    return "price", price


def parse_plan(o: _Obj, currency: str) -> PlanTerms:
    """A plan from its document: `{id, name?, price, overage?, rollover?: {percent}, allowances: [...]}`."""
    plan_id = o.text("id")
    if ":" in plan_id or "/" in plan_id or len(plan_id) > 64:
        raise ConfigError(f"{o.path}.id: at most 64 characters, without ':' or '/'")
    default = o.data.get("overage", "list")
    o.seen.add("overage")
    if not isinstance(default, (str, dict)):
        raise ConfigError(f"{o.path}.overage: must be list, stop or a price {{input, output}}")
    allowances = []
    for a in o.items("allowances"):
        overage, price = _overage(a, "overage", default)
        allowances.append(Allowance(a.strs("models"), a.integer("tokens", minimum=1), overage, price))
        a.done()
    if not allowances:
        raise ConfigError(f"{o.path}.allowances: a plan includes at least one allowance")
    if sum(1 for a in allowances if not a.models) > 1:
        raise ConfigError(f"{o.path}.allowances: at most one allowance may cover every model")
    rollover = _Obj(o.data.get("rollover") or {}, f"{o.path}.rollover")
    o.seen.add("rollover")
    percent = rollover.integer("percent", 0)
    rollover.done()
    if percent > 100:
        raise ConfigError(f"{o.path}.rollover.percent: at most 100")
    fee = parse_amount(o.data.get("price", 0), currency, f"{o.path}.price")
    o.seen.add("price")
    terms = PlanTerms(plan_id, fee, tuple(allowances), percent, o.text("name", required=False) or "", dict(o.data))
    o.done()
    return terms


def plan_of_doc(doc: dict[str, Any], currency: str, where: str = "plan") -> PlanTerms:
    return parse_plan(_Obj(dict(doc), where), currency)


def check_models(terms: PlanTerms, known: set[str], where: str) -> None:
    for i, allowance in enumerate(terms.allowances):
        for name in allowance.models:
            if name not in known:
                raise ConfigError(f"{where}.allowances[{i}].models: unknown model {name!r}")


# the arithmetic of a period


def next_month(period: str) -> str:
    return month_of(month_bounds(period)[1])


def share(start_ms: int, end_ms: int, period: str) -> Fraction:
    """The part of the month `period` that [start_ms, end_ms) covers."""
    first, last = month_bounds(period)
    covered = max(0, min(end_ms, last) - max(start_ms, first))
    return Fraction(covered, last - first)


def half_up(value: Fraction) -> int:
    """The one rounding, half up, of a non-negative exact amount (accounting units or tokens)."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def prorated(amount: int, part: Fraction) -> int:
    return half_up(amount * part)


def fraction_doc(part: Fraction) -> list[int]:
    return [part.numerator, part.denominator]


def fraction_of(doc: Any) -> Fraction:
    return Fraction(int(doc[0]), int(doc[1]))

"""Plans and subscriptions as JSON documents, as the admin API answers and the CLI prints them.

Money is a decimal string in major units; token counts are integers; times ISO 8601 in UTC.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tokenops.charging.accounts import Account
from tokenops.charging.allowance import Subscription, group_of_grant
from tokenops.charging.documents import iso
from tokenops.charging.money import format_amount
from tokenops.charging.plans import PlanTerms
from tokenops.periods import month_of


def _price(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def plan_doc(terms: PlanTerms, currency: str) -> dict[str, Any]:
    allowances = []
    for a in terms.allowances:
        doc: dict[str, Any] = {"models": list(a.models), "tokens": a.tokens, "overage": a.overage}
        if a.price is not None:
            doc["overage_price"] = {"input": _price(a.price.input), "output": _price(a.price.output),
                                    "cached_input": _price(a.price.cached_input)}  # fmt: skip
        allowances.append(doc)
    return {"id": terms.id, "name": terms.name, "price": format_amount(terms.price, currency), "currency": currency,
            "rollover_percent": terms.rollover_percent, "allowances": allowances}  # fmt: skip


def subscription_doc(account: Account, sub: Subscription, at_ms: int) -> dict[str, Any]:
    """A subscription with this month's allowance per model group: what it holds, what is used, what is left."""
    month = month_of(at_ms)
    grants = sorted((g for g in account.allowances.values() if g.package_id == sub.id), key=lambda g: g.id)
    return {
        "id": sub.id,
        "tenant": sub.account_id,
        "key_id": sub.key_id,
        "plan": sub.terms.id,
        "price": format_amount(sub.terms.price, account.currency),
        "starts": iso(sub.starts_ms),
        "ends": iso(sub.ends_ms) if sub.ends_ms is not None else None,
        "active": sub.active(at_ms),
        "allowances": [
            {"grant": g.id, "month": g.id.split("/")[1], "models": list(g.models),
             "overage": sub.terms.allowances[group_of_grant(g.id)].overage, "tokens": g.total, "used": g.used,
             "held": g.held, "left": g.total - g.used, "current": g.id.split("/")[1] == month}
            for g in grants
        ],
    }  # fmt: skip

"""When money runs out: each account's and budget's burn rate over the replay, projected forward.

The replayed traffic stands for `period_days` of demand. A prepaid account spends its
package tokens first (on the models they cover), then its balance down to its overdraft
floor; a postpaid account is measured against its credit limit over a 30-day month; a
tenant's budget against its own period. Dates count from the end of the replayed traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tokenops.charging.catalog import BudgetSpec
from tokenops.policy.replay import Outcome
from tokenops.policy.side import Policy, Wallet

MONTH_DAYS = 30
_PERIOD_DAYS = {"day": 1.0, "month": float(MONTH_DAYS)}


@dataclass(slots=True)
class Burn:
    money: float = 0.0  # accounting units a day, outside package coverage
    package_money: float = 0.0  # accounting units a day the package covers while it lasts
    package_tokens: float = 0.0  # tokens a day drawn from the package
    tokens: float = 0.0  # all tokens a day


def _burn(outcomes: Iterable[Outcome], wallet: Wallet | None, days: float) -> Burn:
    burn = Burn()
    for o in outcomes:
        if not o.served:
            continue
        tokens = o.input_tokens + o.output_tokens
        burn.tokens += tokens / days
        covered = wallet is not None and wallet.package_tokens > 0
        if covered and wallet is not None and (not wallet.package_models or o.model in wallet.package_models):
            burn.package_money += o.revenue / days
            burn.package_tokens += tokens / days
        else:
            burn.money += o.revenue / days
    return burn


def days_left(wallet: Wallet, burn: Burn) -> float | None:
    """Days until the balance reaches its floor, packages drawn first; None when it never does."""
    money = float(wallet.balance + wallet.limit)
    package_days = wallet.package_tokens / burn.package_tokens if burn.package_tokens else float("inf")
    if burn.money and money / burn.money <= package_days:
        return max(0.0, money / burn.money)
    if package_days == float("inf"):
        return None
    money -= burn.money * package_days
    rate = burn.money + burn.package_money
    return package_days + max(0.0, money) / rate if rate else None


HORIZON_DAYS = 36_525  # a projection further out than a hundred years has no date


def _date(end_ms: int, days: float | None) -> str | None:
    if days is None or days > HORIZON_DAYS:
        return None
    return (datetime.fromtimestamp(end_ms / 1000, UTC) + timedelta(days=days)).date().isoformat()


def _budget(spec: BudgetSpec, burn: Burn, end_ms: int) -> dict[str, Any]:
    limit = spec.amount if spec.amount is not None else spec.tokens or 0
    rate = burn.money + burn.package_money if spec.amount is not None else burn.tokens
    period = _PERIOD_DAYS.get(spec.period)
    days = limit / rate if rate else None
    reached = days is not None and (period is None or days < period)
    return {
        "tenant": spec.target,
        "account": f"budget {spec.id} ({spec.period}, {spec.mode})",
        "unit": "units" if spec.amount is not None else "tokens",
        "left": limit,
        "per_day": round(rate),
        "days": round(days, 2) if reached and days is not None else None,
        "date": _date(end_ms, days) if reached and period is None else None,
        "note": (f"exhausted {days:.1f} days into each {spec.period}" if reached and period else None)
        if reached
        else "not reached within its period",
    }


def project(policy: Policy, outcomes: list[Outcome], days: float, end_ms: int) -> list[dict[str, Any]]:
    rows = []
    for wallet in sorted(policy.wallets.values(), key=lambda w: w.tenant):
        burn = _burn((o for o in outcomes if o.tenant == wallet.tenant), wallet, days)
        if wallet.type == "prepaid":
            left = days_left(wallet, burn)
            note = "never at this rate" if left is None else None
            if left is not None and left > HORIZON_DAYS:
                note = "not within a hundred years at this rate"
            rows.append({"tenant": wallet.tenant, "account": "prepaid balance", "unit": "units",
                         "left": wallet.balance + wallet.limit, "package_tokens": wallet.package_tokens,
                         "per_day": round(burn.money + burn.package_money), "days": None if left is None else
                         round(left, 2), "date": _date(end_ms, left), "note": note})  # fmt: skip
        else:
            monthly = (burn.money + burn.package_money) * MONTH_DAYS
            share = monthly / wallet.limit if wallet.limit else None
            rows.append({"tenant": wallet.tenant, "account": "postpaid credit limit", "unit": "units",
                         "left": wallet.limit, "per_day": round(burn.money + burn.package_money), "days": None,
                         "date": None, "note": "no credit limit" if share is None else
                         f"{share:.1%} of the credit limit a month"})  # fmt: skip
    for spec in policy.budgets:
        if spec.scope == "tenant":
            owner = policy.wallets.get(spec.target)
            burn = _burn((o for o in outcomes if o.tenant == spec.target), owner, days)
            rows.append(_budget(spec, burn, end_ms))
    return rows

"""Accounts: prepaid (balance, overdraft limit) and postpaid (credit limit, invoiced monthly).

Both share one rule: the balance may fall to minus the limit and no further. For a
prepaid account the limit is the overdraft (default 0), for a postpaid one the credit line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenops.charging.allowance import Subscription
from tokenops.charging.packages import Grant


@dataclass(slots=True)
class Account:
    id: str
    type: str  # prepaid | postpaid
    currency: str
    limit: int  # accounting units the balance may go below zero
    balance: int  # settled balance, accounting units
    reserved: int = 0  # held by requests in flight
    grants: dict[str, Grant] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # plans, current and past
    allowances: dict[str, Grant] = field(default_factory=dict)  # each plan month's allowance, per model group

    @property
    def floor(self) -> int:
        return -self.limit

    @property
    def headroom(self) -> int:
        """What new reservations may still take without the floor being at risk."""
        return self.balance + self.limit - self.reserved

    def package_tokens(self) -> int:
        return sum(g.remaining for g in self.grants.values())

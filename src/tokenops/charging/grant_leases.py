"""Scaled out, the tokens of each package grant and plan allowance, shared by the replicas through Redis.

The lease pool of a balance (`leases.py`), counted in tokens: the pool's head is what is
left of the grant (its total less what every replica drew), each replica leases a part of
it, and a request holds and draws a grant's tokens only within this replica's lease
(`Grant.available`), so the replicas together never draw more than the grant. A draw settled
here shrinks the lease and the head (`spent`); a dead replica's leases expire or are evicted.

Before a request is reserved, the admit step tops up the leases of the grants it may use to
its worst case (`short`: what the pool may still give), so a package or an allowance pays for
the request as it would on one replica; only what the pool has no more of falls to money.

The pool of a grant starts from this replica's view of it (its total less the draws in the
ledger, as this replica has applied them): on first use, and after Redis lost its data (then
the draws of requests in flight at that moment, and of the last second's foreign charges not
yet applied here, are all the pool can miss). While Redis is unreachable no more of a grant
is leased: requests past the lease held are paid by money, under the balance's outage rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from tokenops.charging.accounts import Account
from tokenops.charging.leases import Pooled, RedisLeases
from tokenops.charging.packages import Grant

FRESH_S = 1.0  # what the pool said it had left is believed this long (leases come back every second)


class GrantLeases(RedisLeases):
    namespace = "grant1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: dict[str, float] = {}  # per grant: when the pool last said what it had left (`free`)

    def attach(self, account: Account) -> None:
        """Bound the account's grants and allowances to what this replica leased of them."""
        for grant in _grants(account):
            if grant.pool is None:
                grant.pool = self.held

    def short(self, grants: Iterable[Grant], need: int) -> list[tuple[Grant, int]]:
        """The grants to top up, and by how much, for `need` tokens to fit here: those (in order) whose pool may
        still have tokens, until their leases together would cover `need`; [] when the leases already do."""
        grants = list(grants)
        missing = need - sum(max(0, g.available) for g in grants)
        wanted = []
        for grant in grants:
            if missing <= 0:
                break
            unleased = grant.total - grant.used - max(0, self.room(grant)) - grant.held  # as this replica sees it
            fresh = time.monotonic() - self.asked.get(grant.id, -FRESH_S) < FRESH_S
            may = self.free[grant.id] if fresh else unleased  # what the pool said it had left, just now
            if may > 0 and unleased > 0:
                take = min(missing, may, unleased)
                wanted.append((grant, take))
                missing -= take
        return wanted

    async def top_up_grants(self, wanted: Iterable[tuple[Grant, int]]) -> None:
        for grant, more in wanted:
            await self.top_up(grant, max(0, self.room(grant)) + more)

    def spent_draws(self, draws: dict[str, int]) -> None:
        for grant_id, n in draws.items():
            self.spent(grant_id, n)

    async def _run(self, account_id: str, debit: int, want: int, floor: int) -> int:
        new = await super()._run(account_id, debit, want, floor)
        self.asked[account_id] = time.monotonic()
        return new

    def _spare(self, need: int) -> int:
        return 0  # the need and no more, and every token no request holds goes back at the next renewal: the
        # pool's last tokens go where they are used

    async def lease_allowance(self, account: Account, grants: tuple[str, ...], tokens: int) -> None:
        """Lease what a plan's allowance grants may pay of `tokens` a request did not hold of them (it held money
        instead, or its reservation is gone): it is drawn at settlement."""
        allowance = [account.allowances[g] for g in grants if g in account.allowances]
        await self.top_up_grants(self.short(allowance, tokens))

    def _outage_top_up(self, account: Pooled, need: int) -> bool:
        return self.room(account) >= need  # nothing more is leased until Redis answers

    async def renew(self) -> None:
        """The upkeep's step: refresh the grants this replica leased, holds or drew since; forget the others."""
        await self.refresh(list(self._accounts.values()))
        stale = time.monotonic() - FRESH_S
        for grant_id, grant in list(self._accounts.items()):
            if not self.held.get(grant_id) and not grant.reserved and not self.unsent.get(grant_id):
                del self._accounts[grant_id]
                self.held.pop(grant_id, None)
                self.slack.pop(grant_id, None)
                self.asked.pop(grant_id, None)
                self.free.pop(grant_id, None)
            elif self.asked.get(grant_id, stale) <= stale:
                self.asked.pop(grant_id, None)
                self.free.pop(grant_id, None)

    async def evict_accounts(self, replicas: Iterable[str], accounts: Iterable[Account]) -> None:
        await self.evict(replicas, [g for a in list(accounts) for g in _grants(a)])

    async def close_all(self) -> None:
        await self.close(list(self._accounts.values()))


def _grants(account: Account) -> Iterator[Grant]:
    yield from list(account.grants.values())
    yield from list(account.allowances.values())

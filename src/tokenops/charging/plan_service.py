"""Selling plans: subscribe, change, cancel, and renew on the month's boundary (UTC), with rollover.

A part of the charging service (it is mixed into `ChargingService`). Every change is a
ledger entry (see `subscriptions.py`), appended atomically with the others it goes with
(a change ends one subscription and starts another in one append). What a change or a
rollover takes away from an allowance is taken in memory first, before the append is
awaited, so no request settling meanwhile can draw it; if the append fails it is put back.

Renewal writes a month's fee and allowance a little before the month starts
(`renew_ahead_ms`), so the first request of a month finds its allowance there; a gateway
that was stopped over a boundary writes what it missed when it starts (as far back as the
month before: a store's memory holds this month's allowances and last month's). Months
turn for every subscription at once, so between boundaries (and retries) there is nothing
to do and the scan is skipped. A prepaid
account whose balance cannot pay a month's fee gets no allowance for it until it can (the
renewal is tried again each minute); meanwhile its requests pay the price book's prices,
or are refused under a hard stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from tokenops.charging.accounts import Account
from tokenops.charging.allowance import Subscription, grant_id
from tokenops.charging.catalog import StoredConfig
from tokenops.charging.credit import CreditController
from tokenops.charging.grant_leases import GrantLeases
from tokenops.charging.leases import CreditLeases
from tokenops.charging.ledger import Entry, FloorBreached, LedgerConflict
from tokenops.charging.packages import Grant
from tokenops.charging.plans import next_month
from tokenops.charging.store import ChargingStore
from tokenops.charging.subscriptions import (
    credit_entry,
    fee_entry,
    fee_key,
    rollover_entry,
    subscription_id,
)
from tokenops.clock import Clock
from tokenops.errors import ConfigError, Conflict, NotFound
from tokenops.periods import month_bounds, month_of

log = logging.getLogger("tokenops.charging.plans")
RETRY_MS = 60_000


@dataclass
class _PlanState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # plan operations take turns
    renewed: dict[str, str] = field(default_factory=dict)  # per subscription: the first month not yet settled
    retry: dict[str, int] = field(default_factory=dict)  # per subscription: when a refused renewal is tried again
    rolled: set[str] = field(default_factory=set)  # rollovers done (subscription/month)
    next_at: int = 0  # nothing is due before this (the next boundary event or retry)


class PlanOperations:
    store: ChargingStore
    clock: Clock
    credit: CreditController
    config: StoredConfig
    leases: CreditLeases | None
    grant_leases: GrantLeases | None
    renew_ahead_ms: int = 600_000  # under invoicing.RENEWAL_LEAD_MS: an invoice reads fees written that early

    def _plan_state(self) -> _PlanState:
        state = self.__dict__.get("_plans")
        if state is None:
            state = self.__dict__["_plans"] = _PlanState()
        return state

    async def post_many(self, entries: Sequence[Entry]) -> list[Entry]:
        raise NotImplementedError  # the service's

    def _plan_account(self, tenant: str) -> Account:
        account = self.credit.accounts.get(tenant)
        if account is None:
            raise NotFound(f"no account for tenant {tenant!r}", code="account_not_found")
        return account

    def subscription(self, tenant: str, sub_id: str) -> Subscription:
        sub = self._plan_account(tenant).subscriptions.get(sub_id)
        if sub is None:
            raise NotFound(f"no subscription {sub_id!r} of tenant {tenant!r}", code="subscription_not_found")
        return sub

    def _new(self, account: Account, plan_id: str, key: str, key_id: str | None, starts_ms: int) -> Subscription:
        terms = self.config.plans.get(plan_id)
        if terms is None:
            raise NotFound(f"no plan {plan_id!r}", code="plan_not_found")
        return Subscription(subscription_id(account.id, key), account.id, key_id, terms, starts_ms)

    def _clash(self, account: Account, key_id: str | None, at_ms: int, but: str = "") -> None:
        for other in account.subscriptions.values():
            if other.id != but and other.key_id == key_id and (other.ends_ms is None or other.ends_ms > at_ms):
                whose = f"key {key_id!r}" if key_id else f"tenant {account.id!r}"
                raise Conflict(f"{whose} already has plan subscription {other.id!r} ({other.terms.id}); change or "
                               "cancel it instead", code="subscription_exists")  # fmt: skip

    async def subscribe(
        self,
        tenant: str,
        plan_id: str,
        key: str,
        key_id: str | None = None,
        starts_ms: int | None = None,
        checked: bool = True,
    ) -> tuple[Subscription, bool]:
        """Start a plan once per key (a retry that leaves the start out means the subscription made first);
        its first month's fee, prorated from its start, is debited now."""
        account = self._plan_account(tenant)
        now = self.clock.now_ms()
        sub = self._new(account, plan_id, key, key_id, now if starts_ms is None else starts_ms)
        known = account.subscriptions.get(sub.id)
        if known is not None:
            if known.terms.id != plan_id or known.key_id != key_id or starts_ms not in (None, known.starts_ms):
                raise Conflict("this idempotency key was already used for a different subscription",
                               code="idempotency_conflict", param="idempotency_key")  # fmt: skip
            return known, False
        if checked and not now - 86_400_000 <= sub.starts_ms < month_bounds(next_month(month_of(now)))[1]:
            raise ConfigError("a plan starts between yesterday and the end of next month")
        async with self._plan_state().lock:
            self._clash(account, key_id, sub.starts_ms)
            await self.post_many([fee_entry(sub, month_of(sub.starts_ms), now)])
        await self.renew_plans(force=True)  # the months between its start and now, if it started earlier
        return account.subscriptions[sub.id], True

    async def _ending(self, account: Account, sub: Subscription, at_ms: int, reason: str) -> list[Entry]:
        """The credits that end `sub` at `at_ms`: its month then, and any later month already renewed."""
        if sub.ends_ms is not None and sub.ends_ms <= at_ms:
            raise Conflict(f"subscription {sub.id!r} has already ended", code="subscription_ended")
        if sub.ends_ms is not None:
            raise Conflict(f"subscription {sub.id!r} already ends at a set time; change or cancel it then",
                           code="subscription_ending")  # fmt: skip
        entries, period, now = [], month_of(max(at_ms - 1, sub.starts_ms)), self.clock.now_ms()
        first = period
        while grant_id(sub.id, period, 0) in account.allowances:
            paid = await self.store.entry(fee_key(sub.id, period))
            assert paid is not None  # its allowance came from it
            entries.append(credit_entry(sub, period, -paid.amount, at_ms, reason, account.allowances, now,
                                        self._in_flight(account)))  # fmt: skip
            period = next_month(period)
        if not entries:  # no month of it was paid (its renewal failed): the end is recorded all the same
            entries.append(credit_entry(sub, first, 0, at_ms, reason, account.allowances, now))
        return entries

    def _in_flight(self, account: Account) -> dict[str, int]:
        """Per allowance grant: what the account's requests in flight may still draw of it beyond what they hold."""
        pending: dict[str, int] = {}
        for hold in self.credit.holds.values():
            if hold.open and hold.account is account:
                for gid in hold.allowance:
                    pending[gid] = pending.get(gid, 0) + max(0, hold.prompt + hold.output - sum(hold.plan.values()))
        return pending

    def _take_out(self, account: Account, entries: Sequence[Entry]) -> list[tuple[object, str, object]]:
        """Apply the ends and allowance totals `entries` set, in memory, now; returns what to put back on failure."""
        undo: list[tuple[object, str, object]] = []

        def put(obj: object, name: str, value: object) -> None:
            undo.append((obj, name, getattr(obj, name)))
            setattr(obj, name, value)

        for e in entries:
            sub = account.subscriptions.get(e.meta.get("subscription", ""))
            if e.kind == "plan_credit" and sub is not None:
                put(sub, "ends_ms", e.meta["at_ms"] if sub.ends_ms is None else min(sub.ends_ms, e.meta["at_ms"]))
                for g in e.meta["grants"]:
                    if g["id"] in account.allowances:
                        put(account.allowances[g["id"]], "total", g["total"])
                        put(account.allowances[g["id"]], "usable_until_ms", g["until"])
            for move in e.meta.get("moves", []) if e.kind == "plan_rollover" else []:
                for name in ("from", "to"):
                    if move[name] in account.allowances:
                        put(account.allowances[move[name]], "total", move[name + "_total"])
        return undo

    async def _post_taking_out(self, account: Account, entries: list[Entry]) -> None:
        undo = self._take_out(account, entries)
        try:
            await self.post_many(entries)
        except BaseException:
            for obj, name, value in reversed(undo):
                setattr(obj, name, value)
            raise
        if self.grant_leases is not None:  # scaled out: the allowances' pools follow their new totals
            before: dict[str, tuple[Grant, int]] = {}
            for obj, name, value in undo:
                if name == "total" and isinstance(obj, Grant) and isinstance(value, int):
                    before.setdefault(obj.id, (obj, value))
            for grant, total in before.values():
                await self.grant_leases.adjust(grant.id, grant.total - total)

    async def change_plan(self, tenant: str, sub_id: str, plan_id: str, key: str) -> tuple[Subscription, bool]:
        """End `sub_id` now and start `plan_id` in its place (same key or tenant), once per key."""
        account = self._plan_account(tenant)
        old = self.subscription(tenant, sub_id)
        now = self.clock.now_ms()
        new = self._new(account, plan_id, key, old.key_id, now)
        known = account.subscriptions.get(new.id)
        if known is not None:
            if known.terms.id != plan_id or known.key_id != old.key_id or old.ends_ms != known.starts_ms:
                raise Conflict("this idempotency key was already used for a different change",
                               code="idempotency_conflict", param="idempotency_key")  # fmt: skip
            return known, False
        async with self._plan_state().lock:
            self._clash(account, old.key_id, now, but=old.id)
            entries = await self._ending(account, old, now, "change")
            await self._post_taking_out(account, [*entries, fee_entry(new, month_of(now), now)])
        await self.renew_plans(force=True)
        return account.subscriptions[new.id], True

    async def cancel_plan(self, tenant: str, sub_id: str, at_period_end: bool = False) -> Subscription:
        """End a subscription now (the unused share of the month's fee is credited) or at the month's end."""
        account = self._plan_account(tenant)
        sub = self.subscription(tenant, sub_id)
        now = self.clock.now_ms()
        at = month_bounds(month_of(max(now, sub.starts_ms)))[1] if at_period_end else now
        async with self._plan_state().lock:
            await self._post_taking_out(account, await self._ending(account, sub, at, "cancel"))
        return sub

    async def renew_plans(self, force: bool = False) -> int:
        """Write each active subscription's fees due (up to the month starting within `renew_ahead_ms`) and the
        rollovers of months that ended; returns how many entries were written. Skipped until something is due
        (months turn for all subscriptions at once), unless `force`d."""
        state = self._plan_state()
        now, written = self.clock.now_ms(), 0
        if now < state.next_at and not force:
            return 0
        horizon = month_of(now + self.renew_ahead_ms)
        async with state.lock:
            for account in list(self.credit.accounts.values()):
                for sub in list(account.subscriptions.values()):
                    if state.retry.get(sub.id, 0) > now:
                        continue
                    try:
                        written += await self._renew(account, sub, now, horizon, state.renewed, state.rolled)
                    except (FloorBreached, LedgerConflict) as exc:
                        state.retry[sub.id] = now + RETRY_MS
                        log.warning("plan subscription %s of %s not renewed (tried again in a minute): %s", sub.id,
                                    account.id, exc)  # fmt: skip
            end = month_bounds(month_of(now))[1]
            turn = end - self.renew_ahead_ms if now < end - self.renew_ahead_ms else end
            state.next_at = min([turn, *(t for t in state.retry.values() if t > now)])
        return written

    async def _renew(self, account: Account, sub: Subscription, now: int, horizon: str, renewed: dict[str, str],
                     rolled: set[str]) -> int:  # fmt: skip
        """The fees and rollovers of `sub` due from the first month not yet settled (`renewed`) to `horizon`."""
        written, settled_so_far = 0, True
        this_month = month_of(now)
        period = renewed.get(sub.id) or max(month_of(sub.starts_ms), month_of(month_bounds(this_month)[0] - 1))
        while period <= horizon:
            first, last = month_bounds(period)
            active = sub.starts_ms < last and (sub.ends_ms is None or sub.ends_ms > first)
            if active and grant_id(sub.id, period, 0) not in account.allowances:
                await self.post_many([fee_entry(sub, period, now)])
                written += 1
            settled = last <= now
            done = f"{sub.id}/{period}"
            if active and settled and sub.terms.rollover_percent and done not in rolled:
                if grant_id(sub.id, next_month(period), 0) in account.allowances:
                    if await self.store.entry(f"plan:{sub.id}:{period}:rollover") is None:
                        await self._post_taking_out(account, [rollover_entry(sub, period, account.allowances, now)])
                        written += 1
                    rolled.add(done)
                elif sub.ends_ms is None or sub.ends_ms > last:
                    settled = False  # the next month is not renewed yet: what carries into it waits
            settled_so_far = settled_so_far and settled
            if settled_so_far:
                renewed[sub.id] = next_month(period)
            period = next_month(period)
        return written

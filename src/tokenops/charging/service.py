"""The charging service: what the gateway, the CLI and (later) the admin API call.

It owns the in-memory credit controller and the store; it seeds, loads and recovers
(reservations left open by a crash are settled from the usage actually recorded, or
released), applies top-ups made by other processes, and sweeps expired reservations.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from tokenops.charging.budgets import (
    Alert,
    BudgetCounter,
    BudgetPool,
    Budgets,
    Spend,
    period_key,
    period_key_start_ms,
    spend_window,
    subject_of,
)
from tokenops.charging.catalog import BudgetSpec, ChargingConfig, StoredConfig, config_from_docs
from tokenops.charging.credit import CreditController, Hold
from tokenops.charging.grant_leases import GrantLeases
from tokenops.charging.interim import interim_record
from tokenops.charging.leases import CreditLeases
from tokenops.charging.ledger import Entry
from tokenops.charging.packages import Grant, grant_meta, grant_of
from tokenops.charging.plan_service import PlanOperations
from tokenops.charging.prices import PriceBook, Tokens
from tokenops.charging.store import ChargingStore
from tokenops.charging.subscriptions import apply_plan
from tokenops.charging.voucher_service import VoucherOperations
from tokenops.clock import Clock
from tokenops.errors import ConfigError
from tokenops.store import UsageRecord

log = logging.getLogger("tokenops.charging")


def operator_key(account_id: str, key: str) -> str:
    """The ledger key of an operator's top-up or grant: per account, and apart from the keys charging makes."""
    return f"op:{account_id}:{key}"


class ChargingService(PlanOperations, VoucherOperations):
    def __init__(
        self, store: ChargingStore, grace_ms: int = 60_000, stale_ms: int = 30_000, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.clock = clock or Clock()  # scaled out, the database's: prices, periods and expiry agree across replicas
        self.grace_ms = grace_ms
        self.stale_ms = stale_ms  # a replica silent this long is taken for dead: its reservations are taken over
        self.config = StoredConfig("CNY", Decimal(0), (), {}, (), {})
        self.sectors: dict[str, str] = {}  # tenant -> sector, from the catalog
        self.credit = CreditController(PriceBook([]), {}, Budgets(()), clock=self.clock)
        self.leases: CreditLeases | None = None  # scaled out: the share of each balance this replica may reserve
        self.grant_leases: GrantLeases | None = None  # scaled out: the share of each grant's tokens leased here
        self.budget_pool: BudgetPool | None = None  # scaled out: where hard budgets are shared
        self._cursor = 0
        self._next_recovery = 0.0
        self._evicted: set[str] = set()  # dead replicas whose leases were taken back

    async def start(self, config: ChargingConfig | None) -> None:
        await self.store.open()
        if config is not None:
            await self.store.seed(config, self.clock.now_ms())
        await self.load()
        if config is not None:
            await self.seed_plans(config)

    async def seed_plans(self, config: ChargingConfig) -> None:
        """The subscriptions the catalog names, once each (by their place in it); then every fee now due."""
        for account in config.accounts.values():
            for i, seed in enumerate(account.plans):
                await self.subscribe(account.id, seed.plan, f"seed:{account.id}:plan:{i}:{seed.plan}", seed.key_id,
                                     seed.starts_ms, checked=False)  # fmt: skip
        await self.renew_plans()

    async def load(self) -> None:
        self.config = config_from_docs(await self.store.config_docs())
        budgets = Budgets(self.config.budgets)
        self._cursor = await self.store.last_seq()
        self.credit = CreditController(
            PriceBook(list(self.config.prices)), await self.store.accounts(), budgets, clock=self.clock
        )
        self.credit.leases = self.leases
        self.credit.grant_leases = self.grant_leases
        budgets.pool = self.budget_pool
        budgets.load(await self._spends(self.config.budgets), self.clock.now_ms())

    async def _spends(self, specs: Iterable[BudgetSpec]) -> list[Spend]:
        """The charges these budgets' current periods count, and no others."""
        window = spend_window(specs, self.clock.now_ms())
        return await self.store.spends(*window) if window is not None else []

    async def recover(self) -> list[str]:
        """Close reservations a dead process left open: charge what its usage records say, or what a cut stream
        last reported (recorded then, as `interrupted`), else release.

        Run at start and then now and then (`beat`): scaled out, a replica that dies leaves its
        reservations to the live ones, which take them over once its heartbeat is stale.
        """
        await self.store.heartbeat()  # first, at start: no reservation of ours, on record soon, passes for an orphan
        if self.leases is not None:  # first: a dead replica's leases would keep its charges below from fitting
            dead = set(await self.store.dead_replicas(self.stale_ms)) - self._evicted
            if dead:
                await self.leases.evict(dead, self.credit.accounts.values())
                if self.grant_leases is not None:
                    await self.grant_leases.evict_accounts(dead, self.credit.accounts.values())
                self._evicted |= dead
                log.warning("took the credit leases of %d stopped replicas back into the pools", len(dead))
        done = []
        rows = [r for r in await self.store.claim_orphans(self.stale_ms) if r.request_id not in self.credit.holds]
        charged = await self.store.charged([r.request_id for r in rows])
        for row in rows:
            record = await self.store.usage_record(row.request_id)
            if record is not None and row.request_id not in charged:
                await self.charge_record(record)
            elif record is None and (interim := interim_record(row)) is not None:
                entry = await self._rate(interim)  # a stream cut by the crash: what it last reported
                await self.store.settle([interim], [entry] if entry is not None else [], [], [])
            done.append(row.request_id)
        if done:
            await self.store.close_holds(done)
            log.warning("closed %d reservations left open by a process that stopped", len(done))
        return done

    async def beat(self, now_s: float, recover_every_s: float = 2.0) -> None:
        """Tell the other replicas this one is alive; every few seconds, take over what dead ones left open."""
        if now_s < self._next_recovery:
            await self.store.heartbeat()
            return
        self._next_recovery = now_s + recover_every_s
        await self.recover()

    async def headroom(self, account_id: str) -> tuple[int, int]:
        """From the ledger: an account's balance + limit, and what its open reservations hold."""
        account = (await self.store.accounts())[account_id]
        held = sum(r.amount for r in await self.store.open_holds() if r.account_id == account_id)
        return account.balance + account.limit, held

    async def grant_left(self, grant_id: str) -> tuple[int, int]:
        """What is left of a grant or allowance as this replica has applied the ledger (its pool's start)."""
        for account in self.credit.accounts.values():
            grant = account.grants.get(grant_id) or account.allowances.get(grant_id)
            if grant is not None:
                return max(0, grant.remaining), 0
        return 0, 0

    async def budget_usage(self, counter: BudgetCounter) -> tuple[int, int]:
        """From the ledger: what a budget's period has spent, and what open reservations may hold against it."""
        spec, spent, tenants = counter.spec, 0, set()
        since = period_key_start_ms(spec.period, counter.period)
        for s in await self.store.spends(since, None if spec.scope == "key" else [spec.target]):
            subject = subject_of(spec, s.tenant, s.key_id, s.session_id)
            if subject is None:
                continue
            tenants.add(s.tenant)  # a key's tenant, as the ledger knows it
            if subject == counter.subject and period_key(spec.period, s.created_ms) == counter.period:
                spent += s.tokens if counter.counts_tokens else s.amount
        if spec.scope != "key":
            tenants = {spec.target}
        holds = [
            r
            for r in await self.store.open_holds()
            if period_key(spec.period, r.created_ms) == counter.period and (not tenants or r.account_id in tenants)
        ]
        if counter.counts_tokens:  # tokens held are not recorded: nothing new until the replicas renewed theirs
            return spent, counter.limit if holds else 0
        return spent, sum(r.amount for r in holds)

    async def charge_record(self, record: UsageRecord) -> Entry | None:
        """Charge a recorded request whose reservation is gone, at the prices in force when it started."""
        entry = await self._rate(record)
        if entry is not None:
            await self.store.append([entry])
        return entry

    async def _rate(self, record: UsageRecord) -> Entry | None:
        """The charge of a request whose reservation is gone (debited in memory, not yet written)."""
        tenant = record.tenant_id
        account = self.credit.accounts.get(tenant)
        model = record.model_served or record.model_requested
        if account is None or not (record.input_tokens or record.output_tokens):
            return None
        rates = self.credit.book.rates(record.created_ms, tenant, self.sectors.get(tenant, ""), model)
        if rates is None:
            return None
        cover = self.credit.cover(account, record.key_id, model, record.created_ms)
        hold = Hold(record.request_id, account, cover.rates if cover and cover.rates else rates, model, tenant,
                    record.key_id, record.session_id, record.created_ms, 0, record.input_tokens,
                    record.output_tokens)  # fmt: skip
        hold.cover(cover)
        tokens = Tokens.of(record)
        if self.leases is not None:  # nothing of this replica's lease was reserved for it: lease its cost
            await self.leases.top_up(account, rates.charge(tokens))
        if self.grant_leases is not None:  # nor of its grants: lease what the allowance may pay
            await self.grant_leases.lease_allowance(account, hold.allowance, tokens.total)
        self.credit.holds[hold.request_id] = hold
        return self.credit.settle(hold, tokens, self.clock.now_ms())

    async def refresh(self) -> int:
        """Apply entries other processes appended (top-ups, grants from the CLI); returns how many."""
        entries = await self.store.foreign_entries(self._cursor)
        for e in entries:
            self._cursor = max(self._cursor, e.seq)
            if e.account_id not in self.credit.accounts:
                self.credit.accounts.update(
                    {k: v for k, v in (await self.store.accounts()).items() if k not in self.credit.accounts}
                )
                continue
            self.apply(e)
        if self.leases is not None:
            await self.leases.refresh(self.credit.accounts.values())
        if self.grant_leases is not None:
            await self.grant_leases.renew()
        if self.budget_pool is not None:
            await self.budget_pool.refresh(self.credit.budgets.counters.values())
        return len(entries)

    def apply(self, e: Entry) -> None:
        """Take a stored entry that did not pass through credit control into the in-memory account."""
        account = self.credit.accounts.get(e.account_id)
        if account is None:
            return
        account.balance += e.amount
        if e.kind == "package_grant":
            g = e.meta
            account.grants[g["grant_id"]] = Grant(g["grant_id"], account.id, g["package"], tuple(g["models"]),
                g["tokens"], 0, g["starts_ms"], g["expires_ms"], g["usable_until_ms"])  # fmt: skip
        elif e.kind == "charge":  # another replica's: what it drew of packages (its plan draws: below)
            for grant_id, n in (e.meta.get("packages") or {}).items():
                if grant_id in account.grants:
                    account.grants[grant_id].used += n
        apply_plan(e, account.subscriptions, account.allowances, account.currency)

    async def sweep(self, at_ms: int | None = None) -> int:
        """Settle reservations past their expiry from the usage recorded for them; release those with none."""
        at = self.clock.now_ms() if at_ms is None else at_ms
        expired = self.credit.expired(at - self.grace_ms)
        for hold in expired:
            record = await self.store.usage_record(hold.request_id)
            if not hold.open:
                continue
            if record is None:
                self.credit.release(hold)
            else:
                tokens = Tokens.of(record)
                entry = self.credit.settle(hold, tokens, at)
                if entry is not None:
                    await self.store.append([entry])
        if expired:
            await self.store.close_holds([h.request_id for h in expired])
        return len(expired)

    async def flush_alerts(self) -> list[Alert]:
        """Store the budget and allowance alerts raised since the last flush; those stored (kept if it failed)."""
        alerts, self.credit.budgets.alerts = self.credit.budgets.alerts, []
        if alerts:
            try:
                await self.store.write_alerts(alerts)
            except BaseException:
                self.credit.budgets.alerts[:0] = alerts  # tried again at the next flush, before newer ones
                raise
        return alerts

    # operations of the admin API (and the CLI's offline tests)

    def _account(self, account_id: str) -> None:
        if account_id not in self.credit.accounts:
            raise ConfigError(f"no account {account_id!r}")

    async def post(self, entry: Entry) -> tuple[Entry, bool]:
        """Append one entry and apply it here at once; for a replayed key, the entry stored first and False."""
        stored = await self.store.append([entry])
        if stored:
            self.apply(stored[0])
            if self.leases is not None:
                await self.leases.adjust(entry.account_id, stored[0].amount)
        found = await self.find_entry(entry.account_id, entry.idem_key)  # with its seq
        assert found is not None  # stored now, or the append skipped it as already there
        return found, bool(stored)

    async def post_many(self, entries: Sequence[Entry]) -> list[Entry]:
        """Append entries all or none and apply those stored here at once; the entries newly stored."""
        stored = await self.store.append(entries)
        for e in stored:
            self.apply(e)
            if self.leases is not None:
                await self.leases.adjust(e.account_id, e.amount)
        return stored

    async def find_entry(self, account_id: str, key: str) -> Entry | None:
        return next((e for e in await self.store.entries(account_id) if e.idem_key == key), None)

    def topup_entry(self, account_id: str, amount: int, key: str, kind: str = "topup", note: str = "") -> Entry:
        self._account(account_id)
        if kind == "topup" and amount <= 0:
            raise ConfigError("a top-up must be a positive amount")
        meta = {"note": note} if note else {}
        return Entry(account_id, kind, amount, key, self.clock.now_ms(), None, meta)

    def grant_entry(self, account_id: str, package_id: str, key: str, starts_ms: int | None = None) -> Entry:
        self._account(account_id)
        product = self.config.packages.get(package_id)
        if product is None:
            raise ConfigError(f"no package {package_id!r}")
        grant = grant_of(product, "grant_" + secrets.token_hex(8), account_id, starts_ms or self.clock.now_ms())
        meta = grant_meta(grant)
        meta["grant_id"] = f"{account_id}:{key}"  # stable, so a retried grant has the same body
        return Entry(account_id, "package_grant", -product.price, key, self.clock.now_ms(), None, meta)

    async def topup(self, account_id: str, amount: int, key: str, kind: str = "topup", note: str = "") -> bool:
        """Credit (or, for an adjustment, debit) an account once per key; False if the key was already used."""
        return (await self.post(self.topup_entry(account_id, amount, key, kind, note)))[1]

    async def grant(
        self, account_id: str, package_id: str, key: str, starts_ms: int | None = None
    ) -> tuple[Entry, bool]:
        """Grant a package once per key. A retry that leaves the start out means the grant made first."""
        found = await self.find_entry(account_id, key)
        if (
            found is not None
            and found.kind == "package_grant"
            and found.meta.get("package") == package_id
            and starts_ms in (None, found.meta.get("starts_ms"))
        ):
            return found, False
        return await self.post(self.grant_entry(account_id, package_id, key, starts_ms))

    async def grant_package(self, account_id: str, package_id: str, key: str, starts_ms: int | None = None) -> bool:
        return (await self.grant(account_id, package_id, key, starts_ms))[1]

    async def set_limit(self, account_id: str, limit: int) -> None:
        self._account(account_id)
        await self.store.set_limit(account_id, limit)
        account = self.credit.accounts[account_id]
        if self.leases is not None:
            await self.leases.adjust(account_id, limit - account.limit)
        account.limit = limit

    async def put_config(self, key: str, doc: dict[str, Any]) -> None:
        """Store a price version or budget document (`price:ID`, `budget:ID`) and apply it here."""
        await self.store.put_config(key, doc)
        await self.reload_config()

    async def reload_config(self) -> None:
        """Take prices, budgets and limits changed in the store, keeping open reservations and spent budgets."""
        self.config = config_from_docs(await self.store.config_docs())
        self.credit.book = PriceBook(list(self.config.prices))
        budgets, specs = self.credit.budgets, {b.id: b for b in self.config.budgets}
        known = {c.spec.id for c in budgets.counters.values()} | {s.id for s in budgets.specs}
        for slot, counter in list(budgets.counters.items()):
            if slot[0] in specs:
                counter.spec = specs[slot[0]]
                budgets.share(counter)
            else:
                del budgets.counters[slot]
        budgets.specs = self.config.budgets
        new = tuple(b for b in self.config.budgets if b.id not in known)
        if new:  # a new budget counts what was already spent in its period
            fresh = Budgets(new)
            fresh.pool = budgets.pool
            fresh.load(await self._spends(new), self.clock.now_ms())
            budgets.counters.update(fresh.counters)
        for account in (await self.store.accounts()).values():
            mine = self.credit.accounts.setdefault(account.id, account)
            mine.limit = account.limit

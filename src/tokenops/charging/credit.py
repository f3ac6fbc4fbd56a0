"""Credit control: reserve the worst-case cost before forwarding, grant more as a stream goes, settle.

Reserve (the initial request of telecom credit control), extend (update), settle
(terminate: debit the actual usage, release the rest). All in memory and synchronous
on the event loop, so no two requests can both spend the same headroom; the ledger
writes that follow are batched. Every grant is covered by package tokens and by the
account's headroom (balance + limit - reserved), so settling never breaks the floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tokenops.charging.accounts import Account
from tokenops.charging.allowance import Cover, allowance_alerts, cover_of, draw_allowance, free_of, hold_allowance
from tokenops.charging.budgets import BudgetCounter, Budgets
from tokenops.charging.grant_leases import GrantLeases
from tokenops.charging.leases import CreditLeases
from tokenops.charging.ledger import Entry, charge_key
from tokenops.charging.money import MTOK, round_up
from tokenops.charging.packages import Grant, drawdown_order, hold_tokens, release_tokens, settle_tokens
from tokenops.charging.prices import PriceBook, Rates, Tokens
from tokenops.clock import Clock
from tokenops.errors import InsufficientFunds, PermissionDenied

THIN_SHARE = 64  # a balance that covers fewer requests than this at their worst case is thin


class Shortfall(InsufficientFunds):
    """A reservation refused (402), with what refused it: the balance short by `short` accounting units, or
    the hard budget `budget[0]` short by `budget[1]` (units or tokens), or (scaled out, the request whole) the
    leases of its grants short of `tokens` (grant, tokens). The admit step tops the lease that fell short up by
    that much and tries again."""

    def __init__(
        self, message: str, short: int = 0, budget: tuple[BudgetCounter, int] | None = None, code: str | None = None,
        tokens: list[tuple[Grant, int]] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message, code=code or ("insufficient_balance" if budget is None else "budget_exceeded"))
        self.short = short
        self.budget = budget
        self.tokens = tokens


@dataclass(slots=True)
class Hold:
    request_id: str
    account: Account
    rates: Rates
    model: str
    tenant: str
    key_id: str
    session_id: str | None
    started_ms: int
    expires_ms: int
    prompt: int  # bound of input tokens
    output: int  # output tokens granted so far
    money: int = 0  # accounting units held on the account
    packages: dict[str, int] = field(default_factory=dict)
    budgets: list[tuple[BudgetCounter, int]] = field(default_factory=list)
    open: bool = True
    plan: dict[str, int] = field(default_factory=dict)  # plan allowance tokens held (when money could not be)
    allowance: tuple[str, ...] = ()  # the allowance grants it draws from at settlement, first
    stop: bool = False  # its plan is a hard stop: no money past the allowance and packages
    plan_rates: str | None = None  # the subscription whose overage price rates it

    @property
    def tokens_held(self) -> int:
        """The tokens held of packages and plan allowances (what money need not hold)."""
        return sum(self.packages.values()) + sum(self.plan.values())

    def cover(self, cover: Cover | None) -> None:
        if cover is not None:
            self.allowance, self.stop = cover.grants, cover.stop
            self.plan_rates = cover.subscription if cover.rates is not None else None


def _money(rates: Rates, prompt: int, output: int, free: int) -> int:
    """Upper bound of what money pays for `prompt` + `output` tokens once `free` package tokens cover input first."""
    uncovered_in = max(0, prompt - free)
    uncovered_out = output - max(0, min(output, free - prompt))
    return round_up((uncovered_in * rates.worst_input + uncovered_out * rates.worst_output) / MTOK)


def _max_output(rates: Rates, prompt: int, cap: int, free: int, room: int) -> int:
    """The most output tokens (≤ cap) whose bound fits in `room` accounting units; -1 if not even the input fits."""
    if _money(rates, prompt, 0, free) > room:
        return -1
    if rates.worst_output == 0:
        return cap
    base = max(0, prompt - free) * rates.worst_input
    paid = int((room * MTOK - base) // rates.worst_output)
    return min(cap, max(0, free - prompt) + paid)


def _fit(rate: Decimal, free: int, wanted: int, room: int) -> int:
    """The most of `wanted` output tokens that `free` package tokens and `room` accounting units pay for."""
    if rate == 0:
        return wanted
    return min(wanted, free + int(max(0, room) * MTOK // rate))


class CreditController:
    def __init__(
        self, book: PriceBook, accounts: dict[str, Account], budgets: Budgets, ttl_ms: int = 900_000,
        clock: Clock | None = None,
    ) -> None:  # fmt: skip
        self.book = book
        self.clock = clock or Clock()  # what `started_ms` and the `now_ms` given to extend and settle are read from
        self.accounts = accounts
        self.budgets = budgets
        self.ttl_ms = ttl_ms
        self.holds: dict[str, Hold] = {}
        self.leases: CreditLeases | None = None  # scaled out: reserve only within this replica's lease
        self.grant_leases: GrantLeases | None = None  # and hold or draw grants' tokens only within its leases

    def headroom(self, account: Account) -> int:
        """What new reservations may take here: the account's headroom, or what is left of this replica's lease."""
        return account.headroom if self.leases is None else self.leases.room(account)

    def thin(self, tenant: str, sector: str, key_id: str, session_id: str | None, model: str, prompt: int, cap: int,
             started_ms: int) -> bool:  # fmt: skip
        """Whether `THIN_SHARE` requests at this worst case would take all the headroom left (the account's, or a
        hard money budget's): a stream is then better granted in slices than held at its worst case."""
        account = self.accounts.get(tenant)
        rates = self.book.rates(started_ms, tenant, sector, model) if account is not None else None
        if account is None or rates is None:
            return False
        room = account.headroom
        for counter in self.budgets.applicable(tenant, key_id, session_id, started_ms):
            if counter.spec.mode == "hard" and not counter.counts_tokens:
                room = min(room, counter.headroom)
        return _money(rates, prompt, cap, 0) * THIN_SHARE > room

    def pooled(self, account: Account, model: str, started_ms: int, allowance: tuple[str, ...]) -> list[Grant]:
        """The grants a request may draw, in the order it draws them: its plan's allowance, then packages."""
        plan = [account.allowances[g] for g in allowance if g in account.allowances]
        return plan + drawdown_order(list(account.grants.values()), model, started_ms)

    def cover(self, account: Account, key_id: str, model: str, started_ms: int) -> Cover | None:
        """What a plan of the account does for this request (None: no plan includes the model)."""
        return cover_of(account.subscriptions, account.allowances, key_id, model, started_ms, account.currency)

    def _fits(self, rates: Rates, prompt: int, cap: int, free: int, room: int,
              counters: list[BudgetCounter]) -> tuple[int, BudgetCounter | None]:  # fmt: skip
        """The most output tokens (≤ cap) that `free` tokens and `room` pay for within the hard budgets, and the
        budget that limits it (None: the balance)."""
        granted, limiting = _max_output(rates, prompt, cap, free, room), None
        for counter in counters:
            if counter.spec.mode != "hard":
                continue
            if counter.counts_tokens:
                fits = min(cap, counter.headroom - prompt) if counter.headroom >= prompt else -1
            else:
                fits = _max_output(rates, prompt, cap, free, counter.headroom)
            if fits < granted:
                granted, limiting = fits, counter
        return granted, limiting

    def reserve(
        self,
        request_id: str,
        tenant: str,
        sector: str,
        key_id: str,
        session_id: str | None,
        model: str,
        prompt: int,
        cap: int,
        started_ms: int,
        min_output: int = 1,
        whole: bool = False,
    ) -> Hold | None:
        """Hold the cost of `prompt` input and up to `cap` output tokens; the hold's `output` is what was granted.

        None when the tenant has no account (not charged). Raises `Shortfall` (402) when not
        even `min_output` tokens fit, or with `whole` when a lease limits it below `cap` (a
        top-up may follow, so it is refused rather than clamped); 403 when the model has no
        price for this tenant.
        """
        account = self.accounts.get(tenant)
        if account is None:
            return None
        rates = self.book.rates(started_ms, tenant, sector, model)
        if rates is None:
            raise PermissionDenied(f"the model '{model}' has no price for this account", code="model_not_priced")
        cover = self.cover(account, key_id, model, started_ms)
        if cover is not None and cover.rates is not None:
            rates = cover.rates
        counters = self.budgets.applicable(tenant, key_id, session_id, started_ms)
        if self.grant_leases is not None:
            self.grant_leases.attach(account)
            wanted = self.grant_leases.short(self.pooled(account, model, started_ms, cover.grants if cover else ()),
                                             prompt + cap) if whole else []  # fmt: skip
            if wanted:
                raise Shortfall(f"the grants of account '{tenant}' are not leased here", tokens=wanted)
        grants = list(account.grants.values())
        free = sum(g.available for g in grants if g.usable(model, started_ms)) if grants else 0
        room = 0 if cover is not None and cover.stop else self.headroom(account)
        plan = cover is not None and (cover.stop or self._fits(rates, prompt, cap, free, room, counters)[0] < cap)
        plan_free = free_of(account.allowances, cover.grants) if plan and cover is not None else 0
        granted, limiting = self._fits(rates, prompt, cap, free + plan_free, room, counters)
        leased = limiting is None or limiting.leased is not None  # a top-up may widen what limits it
        if granted < min_output or (whole and leased and granted < cap):
            if cover is not None and cover.stop and limiting is None:
                raise Shortfall(f"the plan allowance of account '{tenant}' for '{model}' is used up this month "
                                "(a hard stop): add a package or change the plan",
                                code="plan_allowance_exhausted")  # fmt: skip
            if limiting is None:
                hint = "top up or lower max_tokens" if cap else "top up"
                raise Shortfall(f"the balance of account '{tenant}' does not cover this request; {hint}",
                                short=_money(rates, prompt, cap, free + plan_free) - room)  # fmt: skip
            need = prompt + cap if limiting.counts_tokens else _money(rates, prompt, cap, free + plan_free)
            raise Shortfall(f"budget '{limiting.spec.id}' is exhausted for this period",
                            budget=(limiting, need - limiting.headroom))  # fmt: skip
        hold = Hold(request_id, account, rates, model, tenant, key_id, session_id, started_ms,
                    started_ms + self.ttl_ms, prompt, granted)  # fmt: skip
        hold.cover(cover)
        if plan_free and cover is not None:
            hold.plan = hold_allowance(account.allowances, cover.grants, model, started_ms, prompt + granted)
        if free:
            hold.packages = hold_tokens(grants, model, started_ms, prompt + granted - hold.tokens_held)
        hold.money = _money(rates, prompt, granted, hold.tokens_held)
        account.reserved += hold.money
        for counter in counters:
            held = prompt + granted if counter.counts_tokens else hold.money
            counter.reserved += held
            hold.budgets.append((counter, held))
        self.holds[request_id] = hold
        return hold

    def _more(self, hold: Hold, rate: Decimal, free: int, wanted: int, room: int) -> int:
        more = _fit(rate, free, wanted, room)
        for counter, _ in hold.budgets:
            if counter.spec.mode == "hard":
                fits = max(0, counter.headroom) if counter.counts_tokens else _fit(rate, free, wanted, counter.headroom)
                more = min(more, fits)
        return more

    def extend(self, hold: Hold, wanted: int, now_ms: int) -> int:
        """Grant up to `wanted` more output tokens to a stream; returns how many were granted (0: none left)."""
        if not hold.open:
            return 0
        account = hold.account
        if self.grant_leases is not None:
            self.grant_leases.attach(account)
        rate = hold.rates.worst_output
        free = sum(g.available for g in account.grants.values() if g.usable(hold.model, hold.started_ms))
        room = 0 if hold.stop else self.headroom(account)
        more = self._more(hold, rate, free, wanted, room)
        plan = 0
        if hold.allowance and (hold.stop or more < wanted):  # money cannot hold it all: the allowance is held
            plan_free = free_of(account.allowances, hold.allowance)
            more = self._more(hold, rate, free + plan_free, wanted, room)
            for grant_id, n in hold_allowance(account.allowances, hold.allowance, hold.model, hold.started_ms,
                                              min(more, plan_free)).items():  # fmt: skip
                hold.plan[grant_id] = hold.plan.get(grant_id, 0) + n
                plan += n
        if more <= 0:
            return 0
        packaged = min(more - plan, free)
        for grant_id, n in hold_tokens(list(account.grants.values()), hold.model, hold.started_ms, packaged).items():
            hold.packages[grant_id] = hold.packages.get(grant_id, 0) + n
        money = round_up((more - plan - packaged) * rate / MTOK)
        account.reserved += money
        hold.money += money
        for i, (counter, held) in enumerate(hold.budgets):
            add = more if counter.counts_tokens else money
            counter.reserved += add
            hold.budgets[i] = (counter, held + add)
        hold.output += more
        hold.expires_ms = now_ms + self.ttl_ms
        return more

    def settle(self, hold: Hold, tokens: Tokens, now_ms: int) -> Entry | None:
        """Debit the actual usage and release the rest of the hold; the charge entry, or None for no tokens.

        The plan's allowance pays first (what the request held of it, then what nobody holds),
        then its packages, then money."""
        self._close(hold)
        account = hold.account
        if self.grant_leases is not None:
            self.grant_leases.attach(account)
        plan = draw_allowance(account.allowances, hold.plan, hold.allowance, tokens.total)
        planned = sum(plan.values())
        if plan:
            self.budgets.alerts += allowance_alerts(account.allowances, plan, now_ms)
        draws = settle_tokens(account.grants, hold.packages, tokens.total - planned)
        if self.grant_leases is not None:
            self.grant_leases.spent_draws(plan)
            self.grant_leases.spent_draws(draws)
        billable = tokens.after_package(planned + sum(draws.values()))
        amount = hold.rates.charge(billable)
        account.reserved -= hold.money
        room = hold.money if hold.stop else max(0, self.headroom(account))
        debit = min(amount, room)  # usage beyond every bound is written off rather than break the floor
        account.balance -= debit
        if self.leases is not None:
            self.leases.spent(account.id, debit)
        for counter, held in hold.budgets:
            self.budgets.spend(counter, held, debit, tokens.total, now_ms)
        if tokens.total == 0:
            return None
        meta = {
            "model": hold.model,
            "version": hold.rates.version,
            "tenant": hold.tenant,
            "key_id": hold.key_id,
            "session_id": hold.session_id,
            "started_ms": hold.started_ms,
            "tokens": tokens.as_list(),
            "packages": draws,
            "rated": amount,
        }
        if plan:
            meta["plan"] = plan
        if hold.plan_rates is not None:
            meta["plan_rates"] = hold.plan_rates
        if debit != amount:
            meta["written_off"] = amount - debit
        return Entry(account.id, "charge", -debit, charge_key(hold.request_id), now_ms, hold.request_id, meta)

    def release(self, hold: Hold) -> None:
        """Give back a hold unused (the request was refused or failed before any token)."""
        self._close(hold)
        release_tokens(hold.account.grants, hold.packages)
        release_tokens(hold.account.allowances, hold.plan)
        hold.account.reserved -= hold.money
        for counter, held in hold.budgets:
            counter.reserved -= held

    def _close(self, hold: Hold) -> None:
        if not hold.open:
            raise RuntimeError(f"hold of {hold.request_id} was already closed")
        hold.open = False
        self.holds.pop(hold.request_id, None)

    def expired(self, now_ms: int) -> list[Hold]:
        return [h for h in self.holds.values() if h.expires_ms < now_ms]

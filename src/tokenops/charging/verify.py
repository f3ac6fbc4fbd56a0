"""`tokenops ledger verify`: check the ledger against the invariants, listing every offending entry.

Checks: hash chains intact; balance = credits - debits; no balance ever below its
floor; every charge equals its usage re-rated at the version in force when the request
started (or its plan's overage price), less what a plan allowance or a package covered;
exactly one charge per served request (and none without a record); plan fees, credits and
allowance draws as their plans say (`plan_ledger.check_plans`); no reservation open past
its expiry plus the grace period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from tokenops.charging.accounts import Account
from tokenops.charging.catalog import config_from_docs
from tokenops.charging.checkpoints import Checkpoint
from tokenops.charging.ledger import GENESIS, Entry, chain_hash, charge_key
from tokenops.charging.money import UNIT_DIGITS
from tokenops.charging.plan_ledger import charge_rates, check_plans, covered, terms_by_subscription
from tokenops.charging.plans import PlanTerms
from tokenops.charging.prices import PriceBook, Tokens
from tokenops.charging.store import ChargingStore, HoldRow
from tokenops.store import UsageRecord


@dataclass(frozen=True, slots=True)
class Problem:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.detail}"


def check_chains(entries: list[Entry]) -> list[Problem]:
    problems = []
    last: dict[str, str] = {}
    for e in entries:
        prev = last.get(e.account_id, GENESIS)
        expected = chain_hash(prev, e.body_hash(), e.idem_key, e.created_ms)
        if e.prev_hash != prev or e.hash != expected:
            problems.append(Problem("hash_chain", f"entry {e.seq}", f"{e.idem_key} does not chain to its predecessor"))
        last[e.account_id] = e.hash
    return problems


def check_balances(accounts: dict[str, Account], entries: list[Entry]) -> list[Problem]:
    problems = []
    running: dict[str, int] = defaultdict(int)
    for e in entries:
        running[e.account_id] += e.amount
        account = accounts.get(e.account_id)
        if account is not None and running[e.account_id] < account.floor:
            problems.append(
                Problem("floor", f"entry {e.seq}", f"{e.account_id} at {running[e.account_id]} < {account.floor}")
            )
    for account in accounts.values():
        if running[account.id] != account.balance:
            problems.append(
                Problem("balance", account.id, f"balance {account.balance} != credits - debits {running[account.id]}")
            )
    return problems


def check_charges(
    book: PriceBook, sectors: dict[str, str], accounts: dict[str, Account], entries: list[Entry],
    records: list[UsageRecord], currency: str = "CNY",
) -> list[Problem]:  # fmt: skip
    problems = []
    terms = terms_by_subscription(entries, currency)
    charges = {e.request_id: e for e in entries if e.kind == "charge"}
    for record in records:
        charged = record.tenant_id in accounts and (record.input_tokens or record.output_tokens)
        entry = charges.pop(record.request_id, None)
        if not charged:
            if entry is not None:
                problems.append(Problem("one_charge", record.request_id, "charged without tokens or account"))
            continue
        if entry is None:
            problems.append(Problem("one_charge", record.request_id, "served request has no charge"))
            continue
        problems += check_charge(book, terms, sectors, record, entry, currency)
    for request_id in charges:
        problems.append(Problem("one_charge", str(request_id), "charge has no usage record"))
    return problems


def check_charge(book: PriceBook, terms: dict[str, PlanTerms], sectors: dict[str, str], record: UsageRecord,
                  e: Entry, currency: str) -> list[Problem]:  # fmt: skip
    m = e.meta
    t = Tokens(*m["tokens"])
    subject = f"entry {e.seq} ({charge_key(record.request_id)})"
    if t != Tokens.of(record):
        return [Problem("rated_usage", subject, "tokens differ from the usage record")]
    model = record.model_served or record.model_requested
    sector = sectors.get(record.tenant_id, "")
    rates = charge_rates(book, terms, sector, record.tenant_id, model, record.created_ms, m, currency)
    if rates is None or rates.version != m["version"]:
        return [Problem("rated_usage", subject, f"version {m['version']} was not in force when the request started")]
    step = 10 ** (UNIT_DIGITS - e.hashed_digits)  # an entry written in fen was rated to the fen
    rated = rates.charge(t.after_package(covered(m)), e.hashed_digits)
    if rated != m["rated"] or -e.amount != (rated - m.get("written_off", 0)) * step:
        return [Problem("rated_usage", subject, f"debit {-e.amount} != rated usage {rated}")]
    return []


def check_reservations(holds: list[HoldRow], now_ms: int, grace_ms: int) -> list[Problem]:
    return [
        Problem("reservation", h.request_id, f"open {now_ms - h.expires_ms} ms past its expiry")
        for h in holds
        if h.expires_ms + grace_ms < now_ms
    ]


@dataclass(frozen=True, slots=True)
class Verification:
    """What a verification looked at, and each problem it found."""

    problems: list[Problem]
    accounts: int
    entries: int
    usage_records: int
    reservations: int
    mode: str = "full"  # or incremental: what is new since `base`
    complete: bool = True  # False: an incremental call stopped at its limit, more is left
    saved: Checkpoint | None = None  # the checkpoint this run wrote (the one it started from if it wrote none)
    base: Checkpoint | None = None  # the checkpoint it started from

    def checked(self) -> dict[str, int]:
        return {"accounts": self.accounts, "entries": self.entries,
                "usage_records": self.usage_records, "open_reservations": self.reservations}  # fmt: skip

    def summary(self) -> str:
        return (
            f"{self.entries:,} ledger entries in {self.accounts:,} hash chains and balances; "
            f"{self.usage_records:,} usage records against their charges, re-rated at their price versions; "
            f"{self.reservations:,} open reservations against their expiry"
        )


async def verify_ledger(
    store: ChargingStore, records: list[UsageRecord], sectors: dict[str, str], now_ms: int, grace_ms: int = 60_000
) -> Verification:
    return (await verify_all(store, records, sectors, now_ms, grace_ms))[0]


async def verify_all(
    store: ChargingStore, records: list[UsageRecord], sectors: dict[str, str], now_ms: int, grace_ms: int = 60_000
) -> tuple[Verification, list[Entry]]:
    """Every entry and record from the start; with the entries read (a checkpoint's heads come from them)."""
    config = config_from_docs(await store.config_docs())
    book = PriceBook(list(config.prices))
    accounts = await store.accounts()
    entries = await store.entries()
    holds = await store.open_holds()
    problems = [
        *check_chains(entries),
        *check_balances(accounts, entries),
        *check_charges(book, sectors, accounts, entries, records, config.currency),
        *(Problem(*found) for found in check_plans(entries, config.currency)),
        *check_reservations(holds, now_ms, grace_ms),
    ]
    return Verification(problems, len(accounts), len(entries), len(records), len(holds)), entries

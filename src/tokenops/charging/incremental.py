"""Incremental `ledger verify`: the invariants checked on what is new since the last checkpoint.

Each account's chain and running balance continue from the checkpoint's head; each new charge is
re-rated against its usage record (looked up by request id), and each new usage record is matched
with its charge (looked up by its key); nothing older is read. A run that finds nothing wrong
writes the next checkpoint. An entry altered after it was verified is found by a full run only.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from tokenops.charging.catalog import config_from_docs
from tokenops.charging.checkpoints import Checkpoint, Head, Slice
from tokenops.charging.ledger import GENESIS, Entry, chain_hash
from tokenops.charging.plan_ledger import check_plans, terms_by_subscription
from tokenops.charging.prices import PriceBook
from tokenops.charging.store import ChargingStore
from tokenops.charging.verify import Problem, Verification, check_charge, verify_all
from tokenops.store import UsageRecord

DEFAULT_LIMIT = 200_000  # entries (and usage records) one call reads at most


def check_chains_from(s: Slice) -> tuple[list[Problem], dict[str, Head]]:
    """Chains, floors and balances of the slice's accounts, each continued from its checkpointed head."""
    problems = []
    heads = dict(s.heads)
    for e in s.entries:
        head = heads.get(e.account_id)
        prev, balance = (head.hash, head.balance) if head else (GENESIS, 0)
        if e.prev_hash != prev or e.hash != chain_hash(prev, e.body_hash(), e.idem_key, e.created_ms):
            problems.append(Problem("hash_chain", f"entry {e.seq}", f"{e.idem_key} does not chain to its predecessor"))
        heads[e.account_id] = Head(e.account_id, e.seq, e.hash, balance + e.amount)
        account = s.accounts.get(e.account_id)
        if account is not None and balance + e.amount < account.floor:
            detail = f"{e.account_id} at {balance + e.amount} < {account.floor}"
            problems.append(Problem("floor", f"entry {e.seq}", detail))
    moved = {e.account_id: heads[e.account_id] for e in s.entries}
    for account_id, head in moved.items():
        account = s.accounts.get(account_id)
        # entries appended after the slice (still to verify) are already in the stored balance
        if account is not None and head.balance != account.balance - s.later.get(account_id, 0):
            detail = f"balance {account.balance} != credits - debits {head.balance + s.later.get(account_id, 0)}"
            problems.append(Problem("balance", account_id, detail))
    return problems, moved


def check_new_charges(book: PriceBook, sectors: dict[str, str], s: Slice, currency: str) -> list[Problem]:
    """Each new charge against its usage record, each new usage record against its charge, plan draws."""
    problems = []
    terms = terms_by_subscription(s.plans, currency)
    for e in s.entries:
        if e.kind != "charge" or e.request_id is None:
            continue
        record = s.charged.get(e.request_id)
        if record is None:
            problems.append(Problem("one_charge", e.request_id, "charge has no usage record"))
        elif not _chargeable(s, record):
            problems.append(Problem("one_charge", e.request_id, "charged without tokens or account"))
        else:
            problems += check_charge(book, terms, sectors, record, e, currency)
    for r in s.records:
        entry = s.charges.get(r.request_id)
        if _chargeable(s, r) and entry is None:
            problems.append(Problem("one_charge", r.request_id, "served request has no charge"))
        elif entry is not None and not _chargeable(s, r) and r.request_id not in s.charged:
            problems.append(Problem("one_charge", r.request_id, "charged without tokens or account"))
    on_plan = {e.seq: e for e in [*s.plans, *s.entries] if e.kind in ("plan_fee", "plan_credit", "plan_rollover")
               or (e.kind == "charge" and (e.meta.get("plan") or e.meta.get("plan_rates")))}  # fmt: skip
    problems += [Problem(*found) for found in check_plans(sorted(on_plan.values(), key=_seq), currency)]
    return problems


def _seq(e: Entry) -> int:
    return e.seq


def _chargeable(s: Slice, record: UsageRecord) -> bool:
    return record.tenant_id in s.accounts and bool(record.input_tokens or record.output_tokens)


def check_slice(
    book: PriceBook, sectors: dict[str, str], s: Slice, now_ms: int, currency: str
) -> tuple[list[Problem], dict[str, Head]]:
    problems, heads = check_chains_from(s)
    problems += check_new_charges(book, sectors, s, currency)
    problems += [Problem("reservation", r, f"open {now_ms - at} ms past its expiry") for r, at in s.overdue]
    return problems, heads


def _position(s: Slice) -> tuple[int, str]:
    if s.records:
        return s.records[-1].created_ms, s.records[-1].request_id
    return (s.checkpoint.usage_ms, s.checkpoint.usage_id) if s.checkpoint else (-(2**62), "")


async def verify_incremental(
    store: ChargingStore, sectors: dict[str, str], now_ms: int, grace_ms: int = 60_000, limit: int = DEFAULT_LIMIT
) -> Verification:
    """Check what is new since the last checkpoint (at most `limit` entries and records); on success, checkpoint it.

    `complete` is False when more is left: call again to go on from the checkpoint this call wrote.
    """
    config = config_from_docs(await store.config_docs())
    book = PriceBook(list(config.prices))
    s = await store.verify_slice(now_ms, grace_ms, limit)
    # the re-rating is CPU work: off the event loop, so a serving process keeps answering meanwhile
    problems, heads = await asyncio.to_thread(check_slice, book, sectors, s, now_ms, config.currency)
    saved = s.checkpoint
    if not problems:
        usage_ms, usage_id = _position(s)
        mark = Checkpoint(0, now_ms, "incremental", s.through_seq, usage_ms, usage_id, len(s.entries), len(s.records))
        saved = await store.save_checkpoint(s.checkpoint.id if s.checkpoint else 0, mark, list(heads.values()))
    return Verification(problems, len(heads), len(s.entries), len(s.records), s.open_holds, "incremental",
                        s.complete, saved, s.checkpoint)  # fmt: skip


async def verify_full(
    store: ChargingStore, records: list[UsageRecord], sectors: dict[str, str], now_ms: int, grace_ms: int = 60_000
) -> Verification:
    """Every entry and record from the start (finds an entry altered after it was verified); checkpoints on success."""
    base = await store.latest_checkpoint()
    found, entries = await verify_all(store, records, sectors, now_ms, grace_ms)
    if found.problems:
        return replace(found, saved=base, base=base)
    heads: dict[str, Head] = {}
    for e in entries:
        before = heads.get(e.account_id)
        heads[e.account_id] = Head(e.account_id, e.seq, e.hash, (before.balance if before else 0) + e.amount)
    last = max(records, key=_usage_key, default=None)
    usage_ms, usage_id = (last.created_ms, last.request_id) if last else (-(2**62), "")
    through = max((h.seq for h in heads.values()), default=0)
    mark = Checkpoint(0, now_ms, "full", through, usage_ms, usage_id, found.entries, found.usage_records)
    saved = await store.save_checkpoint(base.id if base else 0, mark, list(heads.values()))
    return replace(found, saved=saved, base=base)


def _usage_key(r: UsageRecord) -> tuple[int, str]:
    return r.created_ms, r.request_id


def verification_doc(found: Verification) -> dict[str, Any]:
    """What the CLI and the admin API say about a run (beside ok, checked, summary and problems)."""
    return {
        "mode": found.mode,
        "complete": found.complete,
        "checkpoint": found.saved.doc() if found.saved else None,
        "from": found.base.doc() if found.base else None,
    }

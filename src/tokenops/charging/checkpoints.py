"""Verification checkpoints, and the bounded read an incremental `ledger verify` makes from either store.

A checkpoint says how far the ledger (entries up to a seq) and the usage log (records up to a
(created_ms, request_id) position) were verified, and keeps each account's chain head there (its
last verified seq, hash and running balance), so the next run continues the chains and balances
from it. The read is written once as a generator of (sql, args) that each store drives on one
snapshot: `member` is the dialect's "is in this list" test, the list passed as one parameter.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenops.charging.accounts import Account
from tokenops.charging.ledger import Entry
from tokenops.store.base import USAGE_COLUMNS, UsageRecord

Query = tuple[str, tuple[Any, ...]]
Rows = Sequence[Sequence[Any]]
Reading = Generator[Query, Rows, "Slice"]

SQLITE_MEMBER = "IN (SELECT value FROM json_each(?))"  # the list as one JSON parameter
POSTGRES_MEMBER = "= ANY(?::text[])"

_ENTRY = "seq, account_id, kind, amount_units, idem_key, request_id, created_ms, meta, prev_hash, hash, hashed_digits"
_USAGE = ", ".join(USAGE_COLUMNS)
_CHECKPOINT = "id, at_ms, mode, through_seq, usage_ms, usage_id, entries, usage_records"
LATEST = f"SELECT {_CHECKPOINT} FROM verify_checkpoints ORDER BY id DESC LIMIT 1"
INSERT_CHECKPOINT = (
    "INSERT INTO verify_checkpoints (at_ms, mode, through_seq, usage_ms, usage_id, entries, usage_records) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
UPSERT_HEAD = (
    "INSERT INTO verify_heads (account_id, seq, hash, balance_units) VALUES (?, ?, ?, ?) ON CONFLICT (account_id) "
    "DO UPDATE SET seq = excluded.seq, hash = excluded.hash, balance_units = excluded.balance_units"
)
PLAN_KINDS = ("plan_fee", "plan_credit", "plan_rollover")
PLAN_KINDS_SQL = "('plan_fee', 'plan_credit', 'plan_rollover')"
PLAN_LOOKBACK_MS = 62 * 86_400_000  # a charge's plan month, and the fee that opened it


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One verification run that found nothing wrong, and how far it read."""

    id: int
    at_ms: int
    mode: str  # full | incremental
    through_seq: int
    usage_ms: int  # records at or before (usage_ms, usage_id) were verified
    usage_id: str
    entries: int
    usage_records: int

    def row(self) -> tuple[Any, ...]:
        """The values `INSERT_CHECKPOINT` takes (the id is the store's)."""
        return (self.at_ms, self.mode, self.through_seq, self.usage_ms, self.usage_id, self.entries,
                self.usage_records)  # fmt: skip

    def doc(self) -> dict[str, Any]:
        return {"id": self.id, "at_ms": self.at_ms, "mode": self.mode, "through_seq": self.through_seq,
                "usage_ms": self.usage_ms, "usage_id": self.usage_id}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Head:
    """An account's chain where a checkpoint left it."""

    account_id: str
    seq: int
    hash: str
    balance: int


@dataclass(slots=True)
class Slice:
    """What is new since a checkpoint (capped at `limit` rows each), and what checking it needs."""

    checkpoint: Checkpoint | None
    top_seq: int  # the ledger's last seq in this snapshot
    entries: list[Entry]
    records: list[UsageRecord]
    records_complete: bool  # every record before `usage_until_ms` was read
    usage_until_ms: int  # records started from here on wait: a request may still be settling
    heads: dict[str, Head] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)  # of the entries and the records' tenants
    later: dict[str, int] = field(default_factory=dict)  # per account, what entries after the slice added
    charges: dict[str, Entry] = field(default_factory=dict)  # the records' charges, by request id
    charged: dict[str, UsageRecord] = field(default_factory=dict)  # the charges' records, by request id
    plans: list[Entry] = field(default_factory=list)  # every plan entry: the terms charges are rated at
    open_holds: int = 0
    overdue: list[tuple[str, int]] = field(default_factory=list)  # (request id, expiry) past expiry + grace

    @property
    def through_seq(self) -> int:
        return self.entries[-1].seq if self.entries else (self.checkpoint.through_seq if self.checkpoint else 0)

    @property
    def complete(self) -> bool:
        return self.through_seq >= self.top_seq and self.records_complete


def entry_of(row: Sequence[Any]) -> Entry:
    seq, account, kind, amount, key, request_id, created, meta, prev, digest, digits = row
    return Entry(account, kind, amount, key, created, request_id, orjson.loads(meta), seq, prev, digest, digits)


def record_of(row: Sequence[Any]) -> UsageRecord:
    record = UsageRecord(**dict(zip(USAGE_COLUMNS, row, strict=True)))
    record.stream = bool(record.stream)
    return record


def checkpoint_of(row: Sequence[Any] | None) -> Checkpoint | None:
    return None if row is None else Checkpoint(*row)


def read_slice(member: str, now_ms: int, grace_ms: int, limit: int) -> Reading:
    """Entries after the checkpoint, records after its position, and what checking them needs: every read
    is an index range or lookup bounded by what is new (plan entries: by the kind index)."""
    found = yield (LATEST, ())
    checkpoint = checkpoint_of(found[0] if found else None)
    after_seq = checkpoint.through_seq if checkpoint else 0
    usage_ms, usage_id = (checkpoint.usage_ms, checkpoint.usage_id) if checkpoint else (-(2**62), "")
    top = int((yield ("SELECT coalesce(max(seq), 0) FROM ledger_entries", ()))[0][0])
    entries = [entry_of(r) for r in (yield (f"SELECT {_ENTRY} FROM ledger_entries WHERE seq > ? "
                                            "ORDER BY seq LIMIT ?", (after_seq, limit)))]  # fmt: skip
    [(holds, oldest)] = yield ("SELECT count(*), min(created_ms) FROM reservations", ())
    # a request still in flight (its reservation open) writes its record later, with its start as created_ms
    until = min(now_ms, oldest if oldest is not None else now_ms)
    rows = yield (f"SELECT {_USAGE} FROM usage_records WHERE created_ms >= ? AND (created_ms > ? OR request_id > ?) "
                  "AND created_ms < ? ORDER BY created_ms, request_id LIMIT ?",
                  (usage_ms, usage_ms, usage_id, until, limit))  # fmt: skip
    records = [record_of(r) for r in rows]
    out = Slice(checkpoint, top, entries, records, len(records) < limit, until, open_holds=int(holds))
    overdue = yield ("SELECT request_id, expires_ms FROM reservations WHERE expires_ms < ?", (now_ms - grace_ms,))
    out.overdue = [(r[0], int(r[1])) for r in overdue]
    touched = sorted({e.account_id for e in entries} | {r.tenant_id for r in records})
    if touched:
        rows = yield (f"SELECT id, type, currency, limit_units, balance_units FROM accounts WHERE id {member}",
                      (touched,))  # fmt: skip
        out.accounts = {r[0]: Account(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows}
        rows = yield (f"SELECT account_id, seq, hash, balance_units FROM verify_heads WHERE account_id {member}",
                      (touched,))  # fmt: skip
        out.heads = {r[0]: Head(r[0], int(r[1]), r[2], int(r[3])) for r in rows}
        rows = yield (f"SELECT account_id, sum(amount_units) FROM ledger_entries WHERE seq > ? AND account_id {member} "
                      "GROUP BY account_id", (out.through_seq, touched))  # fmt: skip
        out.later = {r[0]: int(r[1]) for r in rows}
    keys = ["charge:" + r.request_id for r in records]
    if keys:
        rows = yield (f"SELECT {_ENTRY} FROM ledger_entries WHERE idem_key {member}", (keys,))
        out.charges = {e.request_id: e for e in map(entry_of, rows) if e.request_id is not None}
    charged = sorted({e.request_id for e in entries if e.kind == "charge" and e.request_id})
    if charged:
        rows = yield (f"SELECT {_USAGE} FROM usage_records WHERE request_id {member}", (charged,))
        out.charged = {r.request_id: r for r in map(record_of, rows)}
    planned = [e.meta["started_ms"] for e in entries if e.kind == "charge" and _on_plan(e.meta)]
    planned += [e.created_ms for e in entries if e.kind in PLAN_KINDS]
    if planned:  # a month's fee is written a day ahead; its credits and rollovers within the month
        sql = f"SELECT {_ENTRY} FROM ledger_entries WHERE kind IN {PLAN_KINDS_SQL} AND created_ms >= ? ORDER BY seq"
        out.plans = [entry_of(r) for r in (yield (sql, (min(planned) - PLAN_LOOKBACK_MS,)))]
    return out


def _on_plan(meta: dict[str, Any]) -> bool:
    return bool(meta.get("plan") or meta.get("plan_rates"))

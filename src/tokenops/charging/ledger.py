"""Ledger entries: append-only, idempotent by key, hash-chained per account.

An entry's body hash covers what it means (account, kind, amount, request, details);
its chain hash covers the previous entry's chain hash too, so removing or altering any
entry breaks every hash after it. The same idempotency key with the same body is one
entry; with a different body it is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from tokenops.charging.money import UNIT_DIGITS

Kind = Literal[
    "topup", "charge", "package_grant", "refund", "adjustment", "plan_fee", "plan_credit", "plan_rollover", "voucher"
]
KINDS: tuple[str, ...] = (
    "topup",
    "charge",
    "package_grant",
    "refund",
    "adjustment",
    "plan_fee",
    "plan_credit",
    "plan_rollover",
    "voucher",
)
GENESIS = "0" * 64


class LedgerConflict(Exception):
    """The idempotency key is already used by an entry with a different body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different entry")
        self.key = key


class FloorBreached(Exception):
    """A debit outside credit control would take an account below its floor."""


@dataclass(slots=True)
class Entry:
    account_id: str
    kind: str
    amount: int  # signed accounting units: credits positive, debits negative
    idem_key: str
    created_ms: int
    request_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""
    hashed_digits: int = UNIT_DIGITS

    def meta_json(self) -> bytes:
        return orjson.dumps(self.meta, option=orjson.OPT_SORT_KEYS)

    def body_hash(self, meta_json: bytes | None = None, digits: int | None = None) -> str:
        step = 10 ** (UNIT_DIGITS - (self.hashed_digits if digits is None else digits))
        amount = self.amount // step if self.amount % step == 0 else f"{self.amount}/{step}"  # never equal if inexact
        digest = hashlib.sha256(orjson.dumps([self.account_id, self.kind, amount, self.request_id]))
        digest.update(meta_json if meta_json is not None else self.meta_json())
        return digest.hexdigest()

    def chain(self, prev_hash: str, body_hash: str) -> str:
        self.prev_hash = prev_hash
        self.hash = chain_hash(prev_hash, body_hash, self.idem_key, self.created_ms)
        return self.hash


def chain_hash(prev_hash: str, body_hash: str, idem_key: str, created_ms: int) -> str:
    return hashlib.sha256(f"{prev_hash}|{body_hash}|{idem_key}|{created_ms}".encode()).hexdigest()


def charge_key(request_id: str) -> str:
    return "charge:" + request_id

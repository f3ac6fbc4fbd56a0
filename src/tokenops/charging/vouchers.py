"""Recharge vouchers: batches of single-use codes worth money or a token package, sold like prepaid cards.

A code is 20 characters of Crockford's base32 (100 random bits), shown once when its batch
is made and stored only as a keyed hash (HMAC-SHA256 with the server secret, as keys are).
It may be redeemed once, before its batch expires, by the tenants or tenant kinds the batch
names (none named: anyone), into a ledger entry of its own: a credit (`voucher`) or a free
package grant, keyed `voucher:<id>`, so two replicas redeeming one code at once credit it once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tokenops.charging.catalog import PackageProduct
from tokenops.charging.ledger import Entry
from tokenops.charging.packages import grant_meta, grant_of

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O or U
CODE_LENGTH = 20
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
DOMAIN = "voucher"  # what code hashes are keyed apart from API keys with
MAX_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class VoucherBatch:
    id: str
    kind: str  # money | tokens
    amount: int  # accounting units (money), 0 for tokens
    package_id: str | None  # the package a token voucher grants
    currency: str
    expires_ms: int
    tenants: tuple[str, ...] = ()  # who may redeem; with kinds, none named: any tenant
    tenant_kinds: tuple[str, ...] = ()
    count: int = 0
    note: str = ""
    created_by: str = ""
    created_ms: int = 0

    def may_redeem(self, tenant: str, kind: str) -> bool:
        if not self.tenants and not self.tenant_kinds:
            return True
        return tenant in self.tenants or kind in self.tenant_kinds


@dataclass(slots=True)
class Redemption:
    """What a redemption attempt came to: `outcome` is redeemed, replayed (this tenant, before), or why not."""

    outcome: str  # redeemed | replayed | unknown | used | revoked | expired | not_eligible
    voucher_id: str | None = None
    batch: VoucherBatch | None = None
    entry: Entry | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in ("redeemed", "replayed")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """As printed on a card: four groups of five."""
    return "-".join(code[i : i + 5] for i in range(0, CODE_LENGTH, 5))


def normalized(text: str) -> str | None:
    """A code as typed (any case, dashes, spaces, O for 0, I or L for 1) to its canonical form; None if it cannot
    be one."""
    if len(text) > 64:
        return None
    code = re.sub(r"[\s-]", "", text).upper().translate(_READ_AS)
    return code if _CODE.match(code) else None


def batch_id() -> str:
    return "vb_" + secrets.token_hex(6)


def redemption_entry(batch: VoucherBatch, voucher_id: str, tenant: str, now_ms: int,
                     product: PackageProduct | None) -> Entry:  # fmt: skip
    """The ledger entry a redemption makes: a credit, or a package granted free (the card was paid for)."""
    meta: dict[str, Any] = {"voucher": voucher_id, "batch": batch.id}
    key = f"voucher:{voucher_id}"
    if batch.kind == "money":
        return Entry(tenant, "voucher", batch.amount, key, now_ms, None, meta)
    assert product is not None
    grant = grant_of(product, f"{tenant}:voucher:{voucher_id}", tenant, now_ms)
    return Entry(tenant, "package_grant", 0, key, now_ms, None, {**grant_meta(grant), **meta})


BATCH_COLUMNS = (
    "id, kind, amount_units, package_id, currency, expires_ms, tenants, tenant_kinds, count, note, created_by, "
    "created_ms"
)


def batch_row(b: VoucherBatch) -> tuple[Any, ...]:
    return (b.id, b.kind, b.amount, b.package_id, b.currency, b.expires_ms, ",".join(b.tenants),
            ",".join(b.tenant_kinds), b.count, b.note, b.created_by, b.created_ms)  # fmt: skip


def batch_of(row: Any) -> VoucherBatch:
    bid, kind, amount, package, currency, expires, tenants, kinds, count, note, by, created = row
    return VoucherBatch(bid, kind, amount, package, currency, expires, tuple(t for t in tenants.split(",") if t),
                        tuple(k for k in kinds.split(",") if k), count, note, by, created)  # fmt: skip


def decide(row: Any, tenant: str, tenant_kind: str, now_ms: int) -> Redemption:
    """Whether the voucher row (`voucher id, status, redeemed_by, entry_key`, then the batch's BATCH_COLUMNS)
    may be redeemed by `tenant` now: `redeemed` means go ahead."""
    if row is None:
        return Redemption("unknown")
    voucher_id, status, redeemed_by, _ = row[:4]
    batch = batch_of(row[4:])
    if status == "redeemed":
        return Redemption("replayed" if redeemed_by == tenant else "used", voucher_id, batch)
    if status == "revoked":
        return Redemption("revoked", voucher_id, batch)
    if batch.expires_ms <= now_ms:
        return Redemption("expired", voucher_id, batch)
    if not batch.may_redeem(tenant, tenant_kind):
        return Redemption("not_eligible", voucher_id, batch)
    return Redemption("redeemed", voucher_id, batch)


VOUCHER_ROW = (
    "SELECT v.id, v.status, v.redeemed_by, v.entry_key, " + ", ".join("b." + c for c in BATCH_COLUMNS.split(", "))
    + " FROM vouchers v JOIN voucher_batches b ON b.id = v.batch_id WHERE v.code_hash = ?"
)  # fmt: skip


class VoucherStore(Protocol):
    """What vouchers ask of the charging store (both stores implement it, with the ledger in one transaction)."""

    async def create_vouchers(self, batch: VoucherBatch, codes: Sequence[tuple[str, str]]) -> None:
        """Store a batch and its codes, `(code hash, voucher id)` each, all or none."""

    async def redeem_voucher(
        self, code_hash: str, tenant: str, tenant_kind: str, now_ms: int, make: Callable[[VoucherBatch, str], Entry]
    ) -> Redemption:
        """Atomically: decide, append `make(batch, voucher id)` to the ledger and mark the code redeemed."""

    async def voucher_batches(self) -> list[tuple[VoucherBatch, dict[str, int]]]:
        """Each batch, with how many of its codes are active, redeemed and revoked."""

    async def vouchers_of(self, batch_id: str) -> list[tuple[Any, ...]]:
        """(id, status, redeemed_by, redeemed_ms) of each code of a batch; never the code or its hash."""

    async def revoke_vouchers(self, batch_id: str, voucher_id: str | None = None, code_hash: str | None = None) -> int:
        """Revoke the unredeemed codes of a batch, or one of them; how many were revoked."""

    async def record_attempts(self, rows: Sequence[tuple[int, str, str, str, str | None]]) -> None:
        """`(at_ms, tenant, address, outcome, voucher id)` of redemption attempts."""

    async def voucher_attempts(self, tenant: str | None = None, limit: int = 1000) -> list[tuple[Any, ...]]:
        """(id, at_ms, tenant, address, outcome, voucher id), newest first."""

    async def count_attempts(self, tenant: str | None = None) -> dict[str, int]:
        """How many attempts had each outcome."""

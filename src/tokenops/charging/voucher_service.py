"""Issuing and redeeming vouchers: a part of the charging service (mixed into `ChargingService`).

Codes are made here, shown to the operator once and handed to the store as keyed hashes;
`hash_code` is the server's keyed hash (HMAC with its secret), passed in by the caller.
A redemption that credits money or grants a package is applied to this replica's memory at
once (and to the shared credit pool), as a top-up is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from tokenops.charging.catalog import StoredConfig
from tokenops.charging.credit import CreditController
from tokenops.charging.leases import CreditLeases
from tokenops.charging.ledger import Entry
from tokenops.charging.store import ChargingStore
from tokenops.charging.vouchers import (
    DOMAIN,
    MAX_BATCH,
    Redemption,
    VoucherBatch,
    batch_id,
    new_code,
    normalized,
    redemption_entry,
)
from tokenops.clock import Clock
from tokenops.errors import ConfigError

HashCode = Callable[[str, str], str]  # (domain, code) -> its keyed hash
Attempt = tuple[int, str, str, str, str | None]  # at_ms, tenant, address, outcome, voucher id
log = logging.getLogger("tokenops.charging.vouchers")


class VoucherOperations:
    store: ChargingStore
    clock: Clock
    credit: CreditController
    config: StoredConfig
    leases: CreditLeases | None

    def apply(self, e: Entry) -> None:
        raise NotImplementedError  # the service's

    def _attempt_log(self) -> tuple[list[Attempt], list[asyncio.Task[None] | None]]:
        """(attempts not yet written, the task writing them), made on first use."""
        if "_attempts" not in self.__dict__:
            self.__dict__["_attempts"] = (list[Attempt](), list[asyncio.Task[None] | None]([None]))
        state: tuple[list[Attempt], list[asyncio.Task[None] | None]] = self.__dict__["_attempts"]
        return state

    def note_attempt(self, attempt: Attempt) -> None:
        """Record a redemption attempt: written with the others that came meanwhile, one commit for all of them,
        at once (a flood of guesses costs one write per batch, not one per guess)."""
        pending, writer = self._attempt_log()
        pending.append(attempt)
        if writer[0] is None or writer[0].done():
            writer[0] = asyncio.get_running_loop().create_task(self.flush_attempts())

    async def flush_attempts(self) -> None:
        """Write the attempts noted so far (also at shutdown); kept for the next flush if the store fails."""
        pending, writer = self._attempt_log()
        running = writer[0]
        if running is not None and not running.done() and running is not asyncio.current_task():
            await asyncio.shield(running)  # what it took is written before this returns
        while pending:
            batch = pending[:5000]
            del pending[: len(batch)]  # taken before the write is awaited: a flush running beside it skips them
            try:
                await self.store.record_attempts(batch)
            except Exception:
                pending[:0] = batch
                log.exception("%d voucher attempts not recorded yet (tried again with the next)", len(batch))
                return

    async def create_vouchers(
        self, kind: str, count: int, expires_ms: int, hash_code: HashCode, amount: int = 0, package: str | None = None,
        tenants: Sequence[str] = (), tenant_kinds: Sequence[str] = (), note: str = "", created_by: str = "",
    ) -> tuple[VoucherBatch, list[str]]:  # fmt: skip
        """A batch of `count` single-use codes worth `amount` (money) or `package` (tokens); the codes, once."""
        now = self.clock.now_ms()
        if not 1 <= count <= MAX_BATCH:
            raise ConfigError(f"count: from 1 to {MAX_BATCH:,} codes a batch")
        if kind == "money" and amount <= 0:
            raise ConfigError("amount: a money voucher is worth a positive amount")
        if kind == "tokens" and (package is None or package not in self.config.packages):
            raise ConfigError(f"package: no package {package!r} on sale")
        if kind not in ("money", "tokens"):
            raise ConfigError("kind: money or tokens")
        if expires_ms <= now:
            raise ConfigError("expires: must be in the future")
        batch = VoucherBatch(batch_id(), kind, amount if kind == "money" else 0, package if kind == "tokens" else None,
                             self.config.currency, expires_ms, tuple(tenants), tuple(tenant_kinds), count, note,
                             created_by, now)  # fmt: skip
        codes = [new_code() for _ in range(count)]
        rows = [(hash_code(DOMAIN, code), f"{batch.id}-{i:05d}") for i, code in enumerate(codes, 1)]
        await self.store.create_vouchers(batch, rows)
        return batch, codes

    async def redeem_voucher(self, code: str, tenant: str, tenant_kind: str, hash_code: HashCode) -> Redemption:
        """Redeem a code for `tenant` once: `redeemed` (credited now), `replayed` (by this tenant before), or why
        not (`malformed`, `unknown`, `used`, `revoked`, `expired`, `not_eligible`)."""
        canonical = normalized(code)
        if canonical is None:
            return Redemption("malformed")
        if tenant not in self.credit.accounts:
            raise ConfigError(f"no account for tenant {tenant!r}")
        now = self.clock.now_ms()

        def make(batch: VoucherBatch, voucher_id: str) -> Entry:
            product = self.config.packages.get(batch.package_id or "") if batch.kind == "tokens" else None
            if batch.kind == "tokens" and product is None:
                raise ConfigError(f"the package {batch.package_id!r} of this voucher is no longer on sale")
            return redemption_entry(batch, voucher_id, tenant, now, product)

        found = await self.store.redeem_voucher(hash_code(DOMAIN, canonical), tenant, tenant_kind, now, make)
        if found.outcome == "redeemed" and found.entry is not None:
            found.entry = await self.store.entry(found.entry.idem_key) or found.entry  # with its place in the ledger
            self.apply(found.entry)
            if self.leases is not None:
                await self.leases.adjust(tenant, found.entry.amount)
        return found

    async def revoke_vouchers(self, batch: str, hash_code: HashCode, code: str | None = None,
                              voucher_id: str | None = None) -> int:  # fmt: skip
        canonical = normalized(code) if code is not None else None
        if code is not None and canonical is None:
            raise ConfigError("code: not a voucher code")
        code_hash = hash_code(DOMAIN, canonical) if canonical is not None else None
        return await self.store.revoke_vouchers(batch, voucher_id, code_hash)

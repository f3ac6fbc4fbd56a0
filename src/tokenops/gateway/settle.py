"""Settle: debit the actual usage, release the rest of the reservation, make both durable.

Usage records and their charges go to the store many requests per commit (group
commit), in one transaction each; a request awaits its own commit before its last
byte goes out. While one batch commits, the next one gathers, so the commit rate,
not the request rate, bounds disk I/O. A reservation still open after `hold_delay_ms`
is written with the next batch (a shorter one never is: a crash before its record
leaves nothing to charge), so a long stream's reservation is on record for recovery;
as the stream is granted more, the row is written again with its new amount and expiry,
and at each interim interval with the usage the stream has had so far (`measure`), which
recovery charges if the process dies before the stream's own record (`charging.interim`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from tokenops.charging.credit import CreditController, Hold
from tokenops.charging.ledger import Entry
from tokenops.charging.prices import Tokens
from tokenops.charging.spool import Spool, SpoolBatch, unreachable
from tokenops.charging.store import ChargingStore, HoldRow
from tokenops.clock import Clock
from tokenops.store import Store, UsageRecord
from tokenops.usage import Usage

log = logging.getLogger("tokenops.settle")

_Item = tuple[UsageRecord | None, Entry | None, str | None, asyncio.Future[None] | None]
Probe = Callable[[int], Awaitable[str]]  # a stream's interim usage at this time, as kept in its reservation


class UsageSink:
    def __init__(
        self,
        store: Store,
        ledger: ChargingStore | None = None,
        max_batch: int = 2048,
        hold_delay_ms: int = 1000,
        spool: Spool | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self.clock = clock or Clock()  # the one reservations' start times are read from
        self._ledger = ledger
        self._spool = spool  # where batches go while the database is unreachable (scaled out only)
        self._replay_at = 0.0
        self._max_batch = max_batch
        self._hold_delay_ms = hold_delay_ms
        self._pending: list[_Item] = []
        self._holds: dict[str, Hold] = {}  # open reservations, by request id
        self._written: dict[str, tuple[int, int, str | None]] = {}  # on record: (amount, expiry, interim) as written
        self._probes: dict[str, Probe] = {}  # streams that report interim usage, by request id
        self._interim: dict[str, str] = {}  # each one's last report
        self._flusher: asyncio.Task[None] | None = None
        self.committed = 0
        self.observers: list[Callable[[UsageRecord], None]] = []  # told of each final record (traffic guard)
        self.charged: list[Callable[[UsageRecord, Entry | None], None]] = []  # ... with its charge (quotas, alerts)
        self.replay_every_s = 0.5

    def _kick(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())

    def hold(self, hold: Hold) -> None:
        """Put a reservation on record once it has been open a while, without waiting for it."""
        self._holds[hold.request_id] = hold

    def report(self, request_id: str, probe: Probe) -> None:
        """Keep this stream's usage so far in its reservation on record, measured at each interim interval."""
        self._probes[request_id] = probe

    async def measure(self) -> None:
        """Measure the usage so far of every stream whose reservation is due on record (at each interim interval)."""
        now_ms = self.clock.now_ms()
        for request_id, probe in list(self._probes.items()):
            hold = self._holds.get(request_id)
            if hold is None or not hold.open:
                self._probes.pop(request_id, None)
                self._interim.pop(request_id, None)
            elif hold.started_ms <= now_ms - self._hold_delay_ms:
                self._interim[request_id] = await probe(now_ms)

    def flush_holds(self) -> None:
        """Write the reservations open longer than the delay even if no request settles meanwhile."""
        if self._holds or (self._spool is not None and self._spool.pending):
            self._pending.append((None, None, None, None))
            self._kick()

    def _due_holds(self, now_ms: int) -> list[HoldRow]:
        """The open reservations to write now: those open past the delay, new or changed since written."""
        due = now_ms - self._hold_delay_ms
        rows = []
        for request_id, h in list(self._holds.items()):
            interim = self._interim.get(request_id)
            if not h.open:  # its request ended: the row goes with its close, if it was ever written
                del self._holds[request_id]
                self._probes.pop(request_id, None)
                self._interim.pop(request_id, None)
            elif h.started_ms <= due and self._written.get(request_id) != (h.money, h.expires_ms, interim):
                rows.append(HoldRow(request_id, h.account.id, h.money, h.expires_ms, h.started_ms, interim=interim))
        return rows

    async def record(self, record: UsageRecord, charge: Entry | None = None, closes: str | None = None) -> None:
        """Returns once the record (and its charge) is durable; a client abort does not interrupt the write."""
        for observe in self.observers:
            observe(record)
        for told in self.charged:
            told(record, charge)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, charge, closes, future))
        self._kick()
        await future  # if the caller is cancelled meanwhile, the write still goes ahead in the flusher

    def close(self, request_id: str) -> None:
        """Take a reservation off record (its request ended without a record of its own)."""
        self._pending.append((None, None, request_id, None))
        self._kick()

    async def _write(self, batch: list[_Item]) -> None:
        records = [r for r, _, _, _ in batch if r is not None]
        if self._ledger is None:
            await self._durably(SpoolBatch(records))
            return
        closing = [c for _, _, c, _ in batch if c is not None]
        for request_id in closing:
            self._holds.pop(request_id, None)
            self._probes.pop(request_id, None)
            self._interim.pop(request_id, None)
        holds = self._due_holds(self.clock.now_ms())
        closed = [c for c in closing if c in self._written]
        charges = [e for _, e, _, _ in batch if e is not None]
        writing = SpoolBatch(records, charges, holds, closed)
        if writing.empty and not (self._spool is not None and self._spool.pending):
            return  # an upkeep tick with nothing changed
        await self._durably(writing)  # failed: the holds are due again next time
        self._written.update({h.request_id: (h.amount, h.expires_ms, h.interim) for h in holds})
        for request_id in closed:
            del self._written[request_id]

    async def _commit(self, batch: SpoolBatch) -> None:
        if self._ledger is None:
            await self._store.write_usage(batch.records)
        else:
            await self._ledger.settle(batch.records, batch.charges, batch.holds, batch.closed)

    async def _durably(self, batch: SpoolBatch) -> None:
        """Commit the batch, or spool it while the database is out of reach (spooled batches go first)."""
        if self._spool is None:
            await self._commit(batch)
            return
        if self._spool.pending and not await self._replay():
            if not batch.empty:  # an upkeep tick's batch only asked for the replay
                await self._spool.append(batch)
            return
        try:
            await self._commit(batch)
        except Exception as exc:
            if not unreachable(exc):
                raise
            log.warning("database unreachable (%s): %d usage records spooled", exc, len(batch.records))
            await self._spool.append(batch)
            self._replay_at = time.monotonic() + self.replay_every_s

    async def _replay(self) -> bool:
        """Store the spooled batches, in order; False while the database is still out of reach."""
        assert self._spool is not None
        if time.monotonic() < self._replay_at:
            return False
        try:
            batches = await self._spool.batches()
            for batch in batches:
                await self._commit(batch)  # idempotent: a batch replayed again is stored once
        except Exception as exc:
            self._replay_at = time.monotonic() + self.replay_every_s
            if not unreachable(exc):
                log.error("spooled usage not replayed: %s", exc)
            return False
        await self._spool.clear()
        log.warning("database back: %d spooled batches replayed", len(batches))
        return True

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._write(batch)
                except Exception as exc:  # the store is down: every waiting request learns it
                    log.error("usage batch of %d not stored: %s", len(batch), exc)
                    for _, _, _, future in batch:
                        if future is not None and not future.done():
                            future.set_exception(exc)
                    continue
                self.committed += sum(1 for r, _, _, _ in batch if r is not None)
                for _, _, _, future in batch:
                    if future is not None and not future.done():
                        future.set_result(None)
        finally:
            self._flusher = None

    async def drain(self) -> None:
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    def close_spool(self) -> None:
        """Release the spool file (batches still in it are replayed by the next process to start)."""
        if self._spool is not None:
            self._spool.close()


def tokens_of(usage: Usage) -> Tokens:
    return Tokens.of(usage)


async def settle(
    sink: UsageSink, credit: CreditController, record: UsageRecord, hold: Hold | None, usage: Usage | None = None
) -> Entry | None:
    """Charge the request's usage against its reservation (or release it) and await durability; the charge."""
    if hold is None:
        await sink.record(record)
        return None
    entry = None
    if hold.open and usage is not None and credit.grant_leases is not None and hold.allowance:
        # scaled out, what the plan's allowance pays beyond what the request held of it must be leased here
        # first (a request that held money rather than the allowance holds no lease, and leases go back)
        unheld = tokens_of(usage).total - sum(hold.plan.values())
        await credit.grant_leases.lease_allowance(hold.account, hold.allowance, unheld)
    if hold.open:
        if usage is None:
            credit.release(hold)
        else:
            entry = credit.settle(hold, tokens_of(usage), credit.clock.now_ms())
    await sink.record(record, entry, hold.request_id)
    return entry

"""Settle: make each request's usage record durable, many requests per commit (group commit).

A request awaits its own record's commit before its last byte goes out; while one
batch commits, the next one gathers, so the commit rate, not the request rate, bounds disk I/O.
"""

from __future__ import annotations

import asyncio
import logging

from tokenops.store import Store, UsageRecord

log = logging.getLogger("tokenops.settle")


class UsageSink:
    def __init__(self, store: Store, max_batch: int = 2048) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[UsageRecord, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.committed = 0

    async def record(self, record: UsageRecord) -> None:
        """Returns once the record is durable; a client abort does not interrupt the write."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._store.write_usage([r for r, _ in batch])
                except Exception as exc:  # the store is down: every waiting request learns it
                    log.error("usage batch of %d not stored: %s", len(batch), exc)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.committed += len(batch)
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flusher = None

    async def drain(self) -> None:
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

"""The export relay: publishes the outbox, in order, exactly once, from whichever replica holds the lease.

Each cycle reads a batch after the sink's position, publishes it and waits for every acknowledgement,
then moves the position past it. A crash between the two publishes the batch again: the stream drops
the copies (message-id de-duplication), and a replica that takes the lease over first reads back what
the stream already holds past the position and skips it, so nothing is duplicated even after the
stream's window. While the sink is unreachable the outbox simply grows; nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Protocol

from tokenops.export.events import Event, ledger_event, usage_event
from tokenops.export.outbox import Item, Outbox

log = logging.getLogger("tokenops.export")
DAY_MS = 86_400_000


class Sink(Protocol):
    async def open(self) -> None: ...

    async def published_after(self, position: int) -> set[int]: ...

    async def publish(self, events: list[Event]) -> None: ...

    async def close(self) -> None: ...


def events_of(items: list[Item], prefix: str, skip: set[int]) -> list[Event]:
    out = []
    for position, kind, row in items:
        if row is None:
            log.error("outbox position %d names a %s row that is gone: not exported", position, kind)
        elif position not in skip:
            out.append(usage_event(position, row, prefix) if kind == "usage" else ledger_event(position, row, prefix))
    return out


class ExportRelay:
    def __init__(
        self, outbox: Outbox, sink: Sink, name: str, prefix: str, now_ms: Callable[[], int], batch: int = 500,
        lease_ms: int = 10_000, retain_ms: int = 7 * DAY_MS,
    ) -> None:  # fmt: skip
        self.outbox, self.sink, self.name, self.prefix = outbox, sink, name, prefix
        self.now_ms = now_ms
        self.batch = batch
        self.lease_ms = lease_ms
        self.retain_ms = retain_ms
        self.owner = secrets.token_hex(8)
        self.leader = False  # this replica holds the lease and has read back what the stream holds
        self.published = 0
        self.idle_s = 0.1
        self._skip: set[int] = set()
        self._renew_ms = 0
        self._prune_ms = 0
        self._position = 0
        self._ahead: list[Item] | None = None  # the batch after the one being published, read meanwhile
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                busy = await self.cycle()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.leader, self._ahead = False, None  # what reached the stream is read back before publishing again
                log.warning("usage export to %s failed, retrying in %.1f s: %s", self.name, backoff, exc)
                try:
                    await self.outbox.failed(self.name, self.owner, f"{type(exc).__name__}: {exc}", self.now_ms())
                except Exception:
                    log.debug("export failure not recorded", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not busy:  # a follower looks for a vacant lease now and then; the leader for new rows often
                await asyncio.sleep(self.idle_s if self.leader else self.lease_ms / 4000)

    async def cycle(self) -> bool:
        """One batch published (True), or nothing to do now (False)."""
        now = self.now_ms()
        if not self.leader or now >= self._renew_ms:
            position = await self.outbox.claim(self.name, self.owner, now, self.lease_ms)
            if position is None:
                self.leader = False
                return False
            self._renew_ms = now + self.lease_ms // 3
            if not self.leader:
                await self.sink.open()
                self._skip = await self.sink.published_after(position)
                self.leader, self._position = True, position
                if self._skip:
                    log.warning("%d events past position %d were already in the stream", len(self._skip), position)
        if now >= self._prune_ms:
            self._prune_ms = now + 60_000
            await self.outbox.prune(now - self.retain_ms)
        items = self._ahead if self._ahead is not None else await self.outbox.batch(self._position, self.batch)
        self._ahead = None
        if not items:
            return False
        events = events_of(items, self.prefix, self._skip)
        last = items[-1][0]
        # the next batch is read while this one's acknowledgements come back
        ahead = asyncio.create_task(self.outbox.batch(last, self.batch)) if len(items) == self.batch else None
        try:
            if events:
                await self.sink.publish(events)
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        if ahead is not None:
            self._ahead = await ahead
        if not await self.outbox.advance(self.name, self.owner, last, len(events), self.now_ms(), self.lease_ms):
            self.leader, self._ahead = False, None  # another replica took the lease over: it goes on from there
            return False
        self._renew_ms = self.now_ms() + self.lease_ms // 3
        self._skip = {p for p in self._skip if p > last}
        self._position = last
        self.published += len(events)
        return True

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop; the leader first publishes what is left, for at most `drain_s` (the next leader does the rest)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.leader:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(), drain_s)
        await self.sink.close()

    async def _drain(self) -> None:
        while self.leader and await self.cycle():
            pass

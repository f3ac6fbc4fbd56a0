"""The NATS JetStream sink: each event one message, `Nats-Msg-Id` its event key (the stream drops a second
copy within its de-duplication window) and `Tokenops-Outbox-Pos` its outbox position (read back after a
crash, so what was stored but not yet recorded as published is not sent again, whatever the window).

A Kafka sink would be another class with the same three calls: `publish` through an idempotent producer
(`enable_idempotence`, the event key as the record key, the position as a header) awaiting every
acknowledgement, and `published_after` reading the partitions' last records' position headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from tokenops.export.events import Event

log = logging.getLogger("tokenops.export")
POSITION = "Tokenops-Outbox-Pos"
ACK_TIMEOUT_S = 5.0
RECOVERY_SCAN = 10_000  # messages read back at most after a takeover (a few batches' worth)


async def connect(url: str, name: str = "tokenops-export") -> Client:
    async def quiet(exc: Exception) -> None:
        log.warning("NATS: %s", exc)

    return await nats.connect(
        url, name=name, connect_timeout=2, reconnect_time_wait=0.5, max_reconnect_attempts=-1, error_cb=quiet
    )


class NatsSink:
    def __init__(self, url: str, stream: str, subject: str, duplicate_window_s: float = 600.0) -> None:
        self.url, self.stream, self.subject = url, stream, subject
        self.duplicate_window_s = duplicate_window_s
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the NATS sink is not open")
        return self._js

    async def open(self) -> None:
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(self.url)
            self._js = self._nc.jetstream(timeout=ACK_TIMEOUT_S)
        try:
            await self.js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            config = StreamConfig(name=self.stream, subjects=[f"{self.subject}.>"], storage=StorageType.FILE,
                                  duplicate_window=self.duplicate_window_s)  # fmt: skip
            await self.js.add_stream(config)
            log.warning("created JetStream stream %s for %s.>", self.stream, self.subject)

    async def published_after(self, position: int) -> set[int]:
        """Positions past `position` already in the stream (published, but not yet recorded so)."""
        info = await self.js.stream_info(self.stream)
        seq, first = info.state.last_seq, max(info.state.first_seq, 1)
        found: set[int] = set()
        while seq >= first and len(found) < RECOVERY_SCAN:
            try:
                msg = await self.js.get_msg(self.stream, seq)
            except nats.js.errors.NotFoundError:
                seq -= 1
                continue
            pos = int((msg.headers or {}).get(POSITION, "0"))
            if pos <= position:
                break
            found.add(pos)
            seq -= 1
        return found

    async def publish(self, events: list[Event]) -> None:
        """Every event stored in the stream (acknowledged), or an error: then none counts as published."""
        acks: list[asyncio.Future[Any]] = []
        for e in events:
            headers = {"Nats-Msg-Id": e.msg_id, POSITION: str(e.position)}
            acks.append(await self.js.publish_async(e.subject, e.body, headers=headers, stream=self.stream))
        try:
            await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_S)
        except BaseException:
            for ack in acks:
                ack.cancel()
            raise

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await asyncio.wait_for(self._nc.close(), 2)
        self._nc = self._js = None


async def read_events(url: str, stream: str, from_seq: int = 1, limit: int = 1000) -> list[tuple[int, bytes]]:
    """Replay: the stream's messages from sequence `from_seq` on (at most `limit`), as (sequence, event JSON),
    through a consumer of its own that acknowledges nothing and goes when done."""
    nc = await connect(url, "tokenops-export-reader")
    try:
        js = nc.jetstream(timeout=ACK_TIMEOUT_S)
        info = await js.stream_info(stream)
        last = info.state.last_seq
        out: list[tuple[int, bytes]] = []
        if last < max(from_seq, 1):
            return out
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(from_seq, 1),
                                ack_policy=AckPolicy.NONE, inactive_threshold=30.0)  # fmt: skip
        sub = await js.pull_subscribe(">", stream=stream, config=config)
        try:
            while len(out) < limit:
                try:
                    msgs = await sub.fetch(min(1000, limit - len(out)), timeout=1.0)
                except nats.errors.TimeoutError:
                    break
                for msg in msgs:
                    out.append((msg.metadata.sequence.stream, msg.data or b""))
                if out and out[-1][0] >= last:
                    break
        finally:
            await sub.unsubscribe()
        return out[:limit]
    finally:
        await nc.close()

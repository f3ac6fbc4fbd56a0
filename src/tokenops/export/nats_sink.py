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

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
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
        url, name=name, connect_timeout=2, reconnect_time_wait=0.5, max_reconnect_attempts=-1, error_cb=quiet,
        skip_subject_validation=True,  # subjects are made of sanitised tokens (`subject_token`)
    )


class NatsSink:
    def __init__(self, url: str, stream: str, subject: str, duplicate_window_s: float = 600.0) -> None:
        self.url, self.stream, self.subject = url, stream, subject
        self.duplicate_window_s = duplicate_window_s
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._inbox = ""  # acknowledgements come back to <inbox>.<token>, one subscription for all
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._token = 0

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the NATS sink is not open")
        return self._js

    async def open(self) -> None:
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(self.url)
            self._js = self._nc.jetstream(timeout=ACK_TIMEOUT_S)
            self._inbox = self._nc.new_inbox()
            await self._nc.subscribe(self._inbox + ".*", cb=self._acked)
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

    async def _acked(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject.rpartition(".")[2], None)
        if future is None or future.done():
            return
        try:
            reply = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            reply = {"error": {"description": "an acknowledgement that is not JSON"}}
        if isinstance(reply, dict) and reply.get("error") is None and reply.get("stream") == self.stream:
            future.set_result(None)
        else:
            error = reply.get("error") if isinstance(reply, dict) else reply
            future.set_exception(nats.js.errors.Error(f"JetStream refused an event: {error}"))

    async def publish(self, events: list[Event]) -> None:
        """Every event stored in the stream (acknowledged), or an error: then none counts as published.

        The events are sent back to back, each with a reply subject of its own under one subscription
        (not a request each), and the acknowledgements are awaited together."""
        assert self._nc is not None
        loop = asyncio.get_running_loop()
        tokens, acks = [], []
        for e in events:
            self._token += 1
            token = str(self._token)
            acks.append(self._waiting.setdefault(token, loop.create_future()))
            tokens.append(token)
            headers = {"Nats-Msg-Id": e.msg_id, POSITION: str(e.position), "Nats-Expected-Stream": self.stream}
            await self._nc.publish(e.subject, e.body, reply=f"{self._inbox}.{token}", headers=headers)
        try:
            await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_S)
        finally:
            for token in tokens:
                pending = self._waiting.pop(token, None)
                if pending is not None:
                    pending.cancel()

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

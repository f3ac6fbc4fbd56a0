"""Catalog change announcements between replicas over Redis pub/sub.

A replica that stores an audited change publishes; every replica's guard wakes and
reloads its snapshot at once. Polling the admin store's version stays as the fallback
(a lost message, Redis down), so a change still lands within the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

log = logging.getLogger("tokenops.store")


class ChangeFeed:
    def __init__(self, client: aioredis.Redis, channel: str, also_close: aioredis.Redis | None = None) -> None:
        self.client = client
        self.channel = channel
        self._also_close = also_close
        self._task: asyncio.Task[None] | None = None

    async def start(self, wake: Callable[[], None]) -> None:
        self._task = asyncio.create_task(self._listen(wake))

    async def _listen(self, wake: Callable[[], None]) -> None:
        while True:
            try:
                async with self.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the version poll carries on; listen again later
                log.warning("catalog change feed interrupted: %s", exc)
                await asyncio.sleep(1.0)

    async def publish(self) -> None:
        try:
            await self.client.publish(self.channel, b"changed")
        except Exception as exc:
            log.warning("could not announce a catalog change: %s", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()
        if self._also_close is not None:
            await self._also_close.aclose()

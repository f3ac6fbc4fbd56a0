"""Relay an upstream stream to the client as SSE, and notice when the client goes away.

When the client disconnects, the relay is cancelled, the upstream request is closed
(so the upstream stops generating) and what was generated up to then is metered.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from tokenops.asgi import Receive, Request
from tokenops.errors import TokenopsError
from tokenops.gateway.apis import StreamEncoder
from tokenops.providers import ChatStream


@dataclass(slots=True)
class RelayOutcome:
    outcome: str = "ok"
    error: TokenopsError | None = None
    ttft_ms: float | None = None

    @property
    def client_gone(self) -> bool:
        return self.outcome == "client_aborted"


async def _watch(receive: Receive, task: asyncio.Task[object], gone: list[bool]) -> None:
    message = await receive()
    if message["type"] == "http.disconnect":
        gone.append(True)
        task.cancel()


async def relay(req: Request, stream: ChatStream, encoder: StreamEncoder) -> RelayOutcome:
    """Send every chunk; returns how the stream ended. The response stays open for the caller."""
    result = RelayOutcome()
    task = asyncio.current_task()
    assert task is not None
    gone: list[bool] = []
    watcher = asyncio.create_task(_watch(req.receive, task, gone))
    write = req.write
    encode = encoder.chunk
    held: list[bytes] = []  # events of one network read, sent in one write
    try:
        await req.start_stream()
        async for payload in stream:
            if result.ttft_ms is None:
                result.ttft_ms = (time.perf_counter() - req.started) * 1000
            data = encode(payload)
            if data:
                held.append(data)
            if held and not stream.buffered:
                await write(held[0] if len(held) == 1 else b"".join(held))
                held.clear()
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        result.outcome = "client_aborted"
    except TokenopsError as err:
        result.outcome = "upstream_error" if err.status >= 500 else "error"
        result.error = err
    finally:
        watcher.cancel()
    if held and result.outcome != "client_aborted":
        await write(b"".join(held))  # what arrived with the stream's end (or its break) still goes out
    if result.outcome != "ok":
        await stream.aclose()
    if result.error is not None:
        await write(encoder.error(result.error))
    return result

"""Relay an upstream stream to the client as SSE, and notice when the client goes away.

When the client disconnects, the relay is cancelled, the upstream request is closed
(so the upstream stops generating) and what was generated up to then is metered.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from tokenops.errors import TokenopsError
from tokenops.gateway.asgi import Receive, Request
from tokenops.gateway.render import openai_error
from tokenops.providers import ChatStream


@dataclass(slots=True)
class RelayOutcome:
    outcome: str = "ok"
    error: TokenopsError | None = None
    ttft_ms: float | None = None
    chunk_id: bytes = b""
    created: bytes = b"0"


async def _watch(receive: Receive, task: asyncio.Task[object], gone: list[bool]) -> None:
    message = await receive()
    if message["type"] == "http.disconnect":
        gone.append(True)
        task.cancel()


def _head_fields(payload: bytes, result: RelayOutcome) -> None:
    start = payload.find(b'"id":"')
    if start >= 0:
        end = payload.find(b'"', start + 6)
        result.chunk_id = payload[start + 6 : end]
    start = payload.find(b'"created":')
    if start >= 0:
        end = start + 10
        while end < len(payload) and payload[end : end + 1].isdigit():
            end += 1
        result.created = payload[start + 10 : end] or b"0"


async def relay(req: Request, stream: ChatStream, upstream_model: str, public_model: str) -> RelayOutcome:
    """Send every chunk; returns how the stream ended. The response stays open for the caller."""
    result = RelayOutcome()
    task = asyncio.current_task()
    assert task is not None
    gone: list[bool] = []
    watcher = asyncio.create_task(_watch(req.receive, task, gone))
    rename = upstream_model != public_model
    old = b'"model":"' + upstream_model.encode() + b'"'
    new = b'"model":"' + public_model.encode() + b'"'
    write = req.write
    try:
        await req.start_stream()
        async for payload in stream:
            if result.ttft_ms is None:
                result.ttft_ms = (time.perf_counter() - req.started) * 1000
                _head_fields(payload, result)
            if rename:
                payload = payload.replace(old, new, 1)
            await write(b"data: " + payload + b"\n\n")
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
    if result.outcome != "ok":
        await stream.aclose()
    if result.error is not None:
        await write(b"data: " + openai_error(result.error) + b"\n\n")
    return result

"""Hostile-input guards at the edge: oversized headers and clients that send their body too slowly.

Body size, content type, encoding and JSON shape are checked where the body is read
and parsed; these two cover what happens before and around that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tokenops.errors import BadRequest, TokenopsError

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
# Credentials a request may carry once: with two, which one the gateway judged would be a guess.
_SINGLE = frozenset({b"authorization", b"x-api-key"})
CHUNK_TIMEOUT_S = 15.0  # the longest silence between two pieces of a request body
BODY_TIMEOUT_S = 120.0  # the longest a whole request body may take


class HeadersTooLarge(TokenopsError):
    status = 431
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    code = "headers_too_large"


class RequestTimeout(TokenopsError):
    status = 408
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    code = "request_timeout"


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    if len(headers) > MAX_HEADERS:
        raise HeadersTooLarge(f"too many request headers (more than {MAX_HEADERS})")
    if sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
        raise HeadersTooLarge(f"request headers are larger than {MAX_HEADER_BYTES} bytes")
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in _SINGLE:
            if name in seen:
                raise BadRequest(f"the {name.decode()} header is sent more than once", code="duplicate_header")
            seen.add(name)


def body_deadline(receive: Receive, chunk_s: float = CHUNK_TIMEOUT_S, total_s: float = BODY_TIMEOUT_S) -> Receive:
    """`receive`, refusing with 408 a body that stalls or trickles; after the body, untouched."""
    deadline = time.monotonic() + total_s
    body_done = False

    async def guarded() -> Message:
        nonlocal body_done
        if body_done:
            return await receive()
        message = await _within(receive, max(min(chunk_s, deadline - time.monotonic()), 0.0))
        if message.get("type") != "http.request" or not message.get("more_body"):
            body_done = True
        return message

    return guarded


async def _within(receive: Receive, wait_s: float) -> Message:
    """`await receive()`, cut off after `wait_s` with 408. What `asyncio.timeout` does, with a bare timer: the body
    is usually there already, and asyncio.timeout's own bookkeeping cost ~6 µs of each request (under uvloop)."""
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(wait_s, expire)
    try:
        return await receive()
    except asyncio.CancelledError:
        if expired and task.uncancel() <= cancelling:  # our own cancellation, no other one pending: a timeout
            raise RequestTimeout("the request body arrived too slowly") from None
        raise
    finally:
        timer.cancel()

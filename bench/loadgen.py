"""A closed-loop HTTP/1.1 load generator on raw asyncio + httptools (keep-alive, one request per connection at a time).

Each of `concurrency` connections sends the same prebuilt request again and again;
latency is measured from the write to the end of the response, time to first byte
to the first body byte (for SSE: the first event).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import httptools

REQUEST_TIMEOUT_S = 60.0


@dataclass(slots=True)
class Sample:
    latency: float
    ttfb: float


@dataclass(slots=True)
class PhaseResult:
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    wall_s: float = 0.0


def build_request(
    host: str, port: int, path: str, body: bytes, token: str | None, headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    if token:
        lines.append(f"authorization: Bearer {token}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.first_byte = 0.0
        self.tail = b""
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)
            assert self.transport is not None
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        if not self.first_byte:
            self.first_byte = time.perf_counter()
        self.tail = (self.tail + body)[-64:]

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), self.tail))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.first_byte = 0.0
        self.tail = b""
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await asyncio.wait_for(self.waiter, REQUEST_TIMEOUT_S)


def _valid(status: int, tail: bytes, stream: bool) -> bool:
    if status != 200:
        return False
    return tail.rstrip().endswith(b"[DONE]") if stream else tail.rstrip().endswith(b"}")


class LoadGenerator:
    """Keeps `concurrency` connections open to one target and runs timed phases on them."""

    def __init__(self, host: str, port: int, request: bytes, stream: bool, concurrency: int) -> None:
        self.host = host
        self.port = port
        self.request = request
        self.stream = stream
        self.concurrency = concurrency
        self._conns: list[_Connection | None] = [None] * concurrency

    async def _conn(self, slot: int) -> _Connection:
        conn = self._conns[slot]
        if conn is None or conn.transport is None or conn.transport.is_closing():
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
            self._conns[slot] = conn
        return conn

    async def _worker(self, slot: int, until: float, out: PhaseResult) -> None:
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                conn = await self._conn(slot)
                status, tail = await conn.request(self.request)
            except (OSError, TimeoutError, httptools.HttpParserError) as exc:
                out.errors += 1
                out.first_error = out.first_error or f"{exc.__class__.__name__}: {exc}"
                self._drop(slot)
                continue
            end = time.perf_counter()
            if not _valid(status, tail, self.stream):
                out.errors += 1
                out.first_error = out.first_error or f"HTTP {status}: {tail[-60:]!r}"
                continue
            first = conn.first_byte or end
            out.samples.append(Sample(end - start, first - start))

    def _drop(self, slot: int) -> None:
        conn = self._conns[slot]
        if conn is not None and conn.transport is not None:
            conn.transport.close()
        self._conns[slot] = None

    async def phase(self, seconds: float) -> PhaseResult:
        """Send requests for `seconds`, then wait for every request in flight to finish."""
        out = PhaseResult()
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(self._worker(i, until, out) for i in range(self.concurrency)))
        out.wall_s = time.perf_counter() - started
        return out

    async def one(self) -> Sample:
        """A single request on connection 0 (for size benchmarks); raises on failure."""
        start = time.perf_counter()
        conn = await self._conn(0)
        status, tail = await conn.request(self.request)
        end = time.perf_counter()
        if not _valid(status, tail, self.stream):
            raise RuntimeError(f"HTTP {status}: {tail!r}")
        return Sample(end - start, (conn.first_byte or end) - start)

    async def close(self) -> None:
        for slot in range(self.concurrency):
            self._drop(slot)
        await asyncio.sleep(0)

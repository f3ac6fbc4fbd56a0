"""The upstream HTTP/1.1 client: keep-alive connections on asyncio + httptools, request heads prebuilt.

Every request to an upstream is a POST of a JSON body to a URL fixed per deployment, so
the head is built once per endpoint and only the length is added per request; the
response is parsed by httptools (chunked bodies decoded) straight into the response's
buffer. A connection goes back to its endpoint's idle list as soon as its response has
fully arrived, whether or not the reader has consumed it yet (the rest stays with the
response). A reused connection that turns out closed before any byte of the answer (the
server timed it out while idle) is replaced once by a fresh one. Errors are raised as
the gateway's own: UpstreamError (cannot connect, broken answer), UpstreamTimeout.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

from tokenops.errors import UpstreamError, UpstreamTimeout

CONNECT_TIMEOUT_S = 10.0
IDLE_S = 15.0  # an idle connection older than this is closed rather than reused
_HIGH_WATER = 1 << 20  # bytes of body buffered unread before the connection stops reading
_LOW_WATER = 1 << 16


class _Stale(Exception):
    """A reused connection closed before any byte of the answer: safe to send again on a fresh one."""


class Response:
    """One upstream answer: its status once the head is in, then its body as it arrives."""

    __slots__ = ("_conn", "_timeout", "buffer", "complete", "error", "head", "keep_alive", "size", "status", "waiter")

    def __init__(self, conn: _Conn, timeout: float | None) -> None:
        self._conn: _Conn | None = conn
        self._timeout = timeout
        self.status = 0
        self.head = False
        self.keep_alive = False
        self.buffer: deque[bytes] = deque()
        self.size = 0
        self.complete = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, silence: str = "upstream stopped sending") -> None:
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        timer = loop.call_later(self._timeout, _expire, waiter, silence) if self._timeout else None
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    async def start(self) -> None:
        """Wait for the head (the status)."""
        while not self.head:
            if self.error is not None:
                raise self.error
            await self._wait("upstream did not answer in time")

    async def readany(self) -> bytes:
        """What has arrived of the body since the last read (waiting for some); b"" once it has all been read."""
        while not self.buffer:
            if self.complete:
                return b""
            if self.error is not None:
                raise self.error
            await self._wait()
        data = self.buffer.popleft() if len(self.buffer) == 1 else b"".join(self._drain())
        self.size -= len(data)
        conn = self._conn
        if conn is not None and conn.paused and self.size < _LOW_WATER:
            conn.resume()
        return data

    def _drain(self) -> list[bytes]:
        out = list(self.buffer)
        self.buffer.clear()
        return out

    async def read(self) -> bytes:
        """The whole body."""
        parts = []
        while data := await self.readany():
            parts.append(data)
        return b"".join(parts)

    async def lines(self) -> AsyncIterator[bytes]:
        """The body line by line (each with its newline), the last line even without one."""
        rest = b""
        while data := await self.readany():
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield line + b"\n"
        if rest:
            yield rest

    def close(self) -> None:
        """Stop reading: a connection still carrying this answer is dropped, never reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()


def _expire(waiter: asyncio.Future[None], message: str) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(message))


class _Conn(asyncio.Protocol):
    """One keep-alive connection to an upstream; carries at most one response at a time."""

    def __init__(self, pool: Upstream, key: tuple[str, int, bool]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.reused = False
        self.received = False  # a byte of the current answer arrived
        self.paused = False
        self.closed = False
        self.idle_since = 0.0
        self.inflate: zlib._Decompress | None = None

    # asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.response is None:
            self.abort()  # an idle connection has nothing to say
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"upstream answered with broken HTTP: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.response is not None and not self.response.complete:
            if self.reused and not self.received:
                self._fail(_Stale())
            else:
                self._fail(UpstreamError("upstream closed the connection mid-answer"))

    def pause_writing(self) -> None:  # a large body waits in the transport's buffer; nothing to hold back here
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-encoding" and value.strip().lower() in (b"gzip", b"deflate"):
            self.inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # not asked for; decoded where a server sends it

    def on_headers_complete(self) -> None:
        response = self.response
        assert response is not None
        response.status = self.parser.get_status_code()
        response.keep_alive = self.parser.should_keep_alive()
        response.head = True
        response.wake()

    def on_body(self, body: bytes) -> None:
        response = self.response
        assert response is not None
        if self.inflate is not None:
            body = self.inflate.decompress(body)
        response.buffer.append(body)
        response.size += len(body)
        if response.size > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        response.wake()

    def on_message_complete(self) -> None:
        response = self.response
        assert response is not None
        response.complete = True
        response.wake()
        response._conn = None  # the rest of the answer is the response's own now
        self.response = None
        self.inflate = None
        self.resume()
        if response.keep_alive and not self.closed:
            self.pool.put_back(self)
        else:
            self.abort()

    def _fail(self, exc: Exception) -> None:
        response, self.response = self.response, None
        if response is not None:
            response.error = exc
            response._conn = None
            response.wake()
        self.abort()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.response is not None:
            self.response._conn = None
            self.response = None
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()
            self.pool.forget(self)


class Endpoint:
    """One upstream URL with its request head prebuilt: every request to it only adds its length and body."""

    __slots__ = ("_head", "key", "pool", "url")

    def __init__(self, pool: Upstream, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        self.pool = pool
        self.url = url
        self.key = (parts.hostname, port, tls)
        host = parts.netloc.rsplit("@", 1)[-1]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {path} HTTP/1.1", f"host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
        self._head = ("\r\n".join(lines) + "\r\ncontent-length: ").encode("latin-1")

    async def post(self, payload: bytes, read_timeout: float | None) -> Response:
        """The answer once its head is in (any status); the body is read from it."""
        try:
            return await self._send(payload, read_timeout, reuse=True)
        except _Stale:
            return await self._send(payload, read_timeout, reuse=False)

    async def _send(self, payload: bytes, read_timeout: float | None, reuse: bool) -> Response:
        conn = await self.pool.connection(self.key, reuse)
        response = conn.response = Response(conn, read_timeout)
        conn.received = False
        assert conn.transport is not None
        conn.transport.writelines((self._head, b"%d\r\n\r\n" % len(payload), payload))
        try:
            await response.start()
        except BaseException:
            response.close()
            raise
        return response


class Upstream:
    """The pool of keep-alive connections every provider shares, at most `limit` open at once."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._idle: dict[tuple[str, int, bool], list[_Conn]] = {}
        self._open: set[_Conn] = set()
        self._tls: ssl.SSLContext | None = None

    def endpoint(self, url: str, headers: dict[str, str]) -> Endpoint:
        return Endpoint(self, url, headers)

    async def connection(self, key: tuple[str, int, bool], reuse: bool) -> _Conn:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(key)
        while reuse and idle:
            conn = idle.pop()
            if not conn.closed and loop.time() - conn.idle_since < IDLE_S:
                conn.reused = True
                return conn
            conn.abort()
        while len(self._open) >= self.limit:
            if not self._close_one_idle():
                await asyncio.sleep(0.005)  # every connection is busy: wait for one to come back
        return await self._connect(key)

    async def _connect(self, key: tuple[str, int, bool]) -> _Conn:
        host, port, tls = key
        if tls and self._tls is None:
            self._tls = ssl.create_default_context()
        loop = asyncio.get_running_loop()
        placeholder = _Conn(self, key)
        self._open.add(placeholder)  # counts against the limit while it connects
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(self, key), host, port, ssl=self._tls if tls else None),
                CONNECT_TIMEOUT_S,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"upstream {host}:{port} did not accept a connection in time") from None
        except OSError as exc:
            raise UpstreamError(f"cannot reach upstream: {exc.__class__.__name__}") from None
        finally:
            self._open.discard(placeholder)
        self._open.add(conn)
        return conn

    def put_back(self, conn: _Conn) -> None:
        conn.idle_since = asyncio.get_running_loop().time()
        conn.reused = False
        self._idle.setdefault(conn.key, []).append(conn)

    def forget(self, conn: _Conn) -> None:
        self._open.discard(conn)
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def _close_one_idle(self) -> bool:
        for idle in self._idle.values():
            if idle:
                idle.pop(0).abort()
                return True
        return False

    async def close(self) -> None:
        for conn in list(self._open):
            conn.abort()
        self._idle.clear()
        await asyncio.sleep(0)

"""The upstream HTTP/1.1 client against a real socket server that misbehaves on purpose: keep-alive reuse,
idle connections the server closed, chunked and gzip bodies, timeouts, broken answers, back-pressure and the
connection limit."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest

from tokenops.errors import UpstreamError, UpstreamTimeout
from tokenops.providers.client import Upstream


class Server:
    """A raw HTTP/1.1 server: each request's path picks how it answers; it counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                if not await self._answer(path, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def _answer(self, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False closes the connection."""
        if path == "/echo":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        elif path == "/close-after":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
            return False
        elif path == "/sse":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for i in range(20):
                event = b'data: {"i": %d}\n\n' % i
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.sleep(0)
            writer.write(b"0\r\n\r\n")
        elif path == "/gzip":
            packed = gzip.compress(b"x" * 10_000)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(packed), packed)
            )
        elif path == "/stall":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await writer.drain()
            await asyncio.sleep(5)
        elif path == "/cut":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
            await writer.drain()
            return False
        elif path == "/big":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (4 << 20))
            for _ in range(64):
                writer.write(b"y" * (1 << 16))
                await writer.drain()
        elif path == "/slow":
            await asyncio.sleep(0.2)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        return True


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    started = Server()
    await started.start()
    yield started
    await started.stop()


async def _body(pool: Upstream, url: str, payload: bytes = b"{}", timeout: float | None = 5.0) -> tuple[int, bytes]:
    response = await pool.endpoint(url, {"content-type": "application/json"}).post(payload, timeout)
    return response.status, await response.read()


async def test_sequential_requests_reuse_one_keep_alive_connection(server: Server) -> None:
    pool = Upstream()
    url = f"http://127.0.0.1:{server.port}/echo"
    for i in range(5):
        assert await _body(pool, url, b'{"n": %d}' % i) == (200, b'{"n": %d}' % i)
    assert server.connections == 1
    await pool.close()


async def test_a_connection_the_server_closed_is_replaced_without_failing_the_request(server: Server) -> None:
    pool = Upstream()
    assert await _body(pool, f"http://127.0.0.1:{server.port}/echo", b"a") == (200, b"a")
    for writer in server.writers:  # the server times the idle connection out
        writer.close()
    await asyncio.sleep(0.05)
    assert await _body(pool, f"http://127.0.0.1:{server.port}/echo", b"b") == (200, b"b")
    assert server.connections == 2
    await pool.close()


async def test_connection_close_is_honoured_and_the_next_request_opens_a_new_one(server: Server) -> None:
    pool = Upstream()
    assert await _body(pool, f"http://127.0.0.1:{server.port}/close-after") == (200, b"ok")
    assert await _body(pool, f"http://127.0.0.1:{server.port}/echo", b"c") == (200, b"c")
    assert server.connections == 2
    await pool.close()


async def test_a_chunked_event_stream_arrives_whole_and_in_order(server: Server) -> None:
    pool = Upstream()
    response = await pool.endpoint(f"http://127.0.0.1:{server.port}/sse", {}).post(b"{}", 5.0)
    lines = [line async for line in response.lines() if line.startswith(b"data:")]
    assert lines == [b'data: {"i": %d}\n' % i for i in range(20)]
    assert await _body(pool, f"http://127.0.0.1:{server.port}/echo", b"d") == (200, b"d")
    assert server.connections == 1, "the connection went back to the pool after the stream"
    await pool.close()


async def test_a_gzip_body_is_decoded(server: Server) -> None:
    pool = Upstream()
    assert await _body(pool, f"http://127.0.0.1:{server.port}/gzip") == (200, b"x" * 10_000)
    await pool.close()


async def test_an_upstream_that_falls_silent_times_out(server: Server) -> None:
    pool = Upstream()
    response = await pool.endpoint(f"http://127.0.0.1:{server.port}/stall", {}).post(b"{}", 0.3)
    assert await response.readany() == b"abc"
    with pytest.raises(UpstreamTimeout):
        await response.readany()
    response.close()
    await pool.close()


async def test_an_answer_cut_short_is_an_upstream_error(server: Server) -> None:
    pool = Upstream()
    with pytest.raises(UpstreamError, match="mid-answer"):
        await _body(pool, f"http://127.0.0.1:{server.port}/cut")
    await pool.close()


async def test_a_refused_connection_is_an_upstream_error(server: Server) -> None:
    port = server.port
    await server.stop()
    await asyncio.sleep(0.05)
    pool = Upstream()
    with pytest.raises(UpstreamError, match="cannot reach upstream"):
        await _body(pool, f"http://127.0.0.1:{port}/echo")
    await pool.close()


async def test_a_slow_reader_pauses_the_connection_and_loses_nothing(server: Server) -> None:
    pool = Upstream()
    response = await pool.endpoint(f"http://127.0.0.1:{server.port}/big", {}).post(b"{}", 5.0)
    await asyncio.sleep(0.3)  # the reader is busy: the client stops reading past its high-water mark
    assert response.size <= 2 << 20, f"{response.size} bytes buffered unread"
    total = 0
    while data := await response.readany():
        total += len(data)
    assert total == 4 << 20
    await pool.close()


async def test_at_most_limit_connections_are_open_at_once(server: Server) -> None:
    pool = Upstream(limit=2)
    results = await asyncio.gather(*(_body(pool, f"http://127.0.0.1:{server.port}/slow") for _ in range(6)))
    assert results == [(200, b"ok")] * 6
    assert server.most_open <= 2
    await pool.close()


async def test_a_response_closed_before_its_end_is_not_reused(server: Server) -> None:
    pool = Upstream()
    response = await pool.endpoint(f"http://127.0.0.1:{server.port}/sse", {}).post(b"{}", 5.0)
    await response.readany()
    response.close()  # the client went away mid-stream
    assert await _body(pool, f"http://127.0.0.1:{server.port}/echo", b"e") == (200, b"e")
    assert server.connections == 2
    await pool.close()

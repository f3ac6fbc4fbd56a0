"""The Python floor: a pass-through proxy with no features, as cheap as Python makes one.

Raw asyncio + httptools on uvloop for the server, one pooled aiohttp session for the
upstream (the cheapest pair measured on this machine kind). Per request it does only what
any gateway must: parse the JSON body, check the key, forward, read the usage (from the
whole body, or from the last events of a stream) and relay the answer — no limits, no
records, no charging. What tokenops spends above this is the price of its features.

Run: python bench/floor_proxy.py --port 9200 --upstream http://127.0.0.1:9100 --key sk-floor
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, cast

import aiohttp
import httptools
import orjson
import uvloop

_JSON_HEAD = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def usage_of_stream(tail: bytes) -> dict[str, Any] | None:
    """The usage of a stream, from its last events only (only the final chunk carries it)."""
    for line in reversed(tail.split(b"\n")):
        if line.startswith(b"data: {") and b'"usage":{' in line:
            return cast(dict[str, Any] | None, orjson.loads(line[6:]).get("usage"))
    return None


class Floor:
    """What the proxy shares between connections: the upstream session, the key, what it counted."""

    def __init__(self, upstream: str, key: str) -> None:
        self.url = upstream.rstrip("/") + "/v1/chat/completions"
        self.bearer = b"Bearer " + key.encode()
        self.session: aiohttp.ClientSession | None = None
        self.tokens = 0  # what a real gateway would meter: kept so the read is not optimised away

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))


class FloorProtocol(asyncio.Protocol):
    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.auth = b""
        self.url = b""
        self.queue: asyncio.Queue[tuple[bytes, bytes, bytes] | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.auth = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        # pipelined requests are answered in order
        self.queue.put_nowait((self.url, self.auth, b"".join(self.body)))
        self.body, self.auth, self.url = [], b"", b""

    def _send(self, status: int, reason: bytes, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(_JSON_HEAD % (status, reason, len(payload)) + payload)

    async def _serve(self) -> None:
        while (item := await self.queue.get()) is not None:
            url, auth, raw = item
            if url == b"/healthz":
                self._send(200, b"OK", b"{}")
                continue
            if auth != self.floor.bearer:
                self._send(401, b"Unauthorized", b'{"error":{"message":"bad key","type":"invalid_request_error"}}')
                continue
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self._send(400, b"Bad Request", b'{"error":{"message":"bad json","type":"invalid_request_error"}}')
                continue
            await self._forward(body)

    async def _forward(self, body: dict[str, Any]) -> None:
        session, transport = self.floor.session, self.transport
        assert session is not None and transport is not None
        payload = orjson.dumps(body)
        headers = {"content-type": "application/json"}
        async with session.post(self.floor.url, data=payload, headers=headers) as answer:
            if not body.get("stream"):
                data = await answer.read()
                usage = orjson.loads(data).get("usage") or {}
                self.floor.tokens += int(usage.get("total_tokens", 0))
                self._send(answer.status, b"OK", data)
                return
            transport.write(_SSE_HEAD)
            tail = b""
            async for data in answer.content.iter_any():
                tail = (tail + data)[-2048:]
                if not transport.is_closing():
                    transport.write(_chunk(data))
            usage = usage_of_stream(tail) or {}
            self.floor.tokens += int(usage.get("total_tokens", 0))
            if not transport.is_closing():
                transport.write(b"0\r\n\r\n")


async def serve(host: str, port: int, upstream: str, key: str) -> None:
    floor = Floor(upstream, key)
    await floor.open()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FloorProtocol(floor), host, port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL (without /v1)")
    parser.add_argument("--key", required=True, help="the one key the proxy accepts")
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.upstream, args.key))


if __name__ == "__main__":
    main()

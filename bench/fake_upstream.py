"""A minimal, fast OpenAI-compatible upstream for benchmarks: raw asyncio + httptools on uvloop.

Every chat completion answers 32 tokens; `stream: true` answers 32 content chunks as SSE
(one write per event, as a model server would), with a usage chunk when
`stream_options.include_usage` is set. Replies are prebuilt, so the upstream costs
almost nothing per request and the load generator and the gateway stay the bottleneck.

Run: python bench/fake_upstream.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import cast

import httptools
import uvloop

REPLY_TOKENS = 32
MODEL = "fake-model"
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_INCLUDE_USAGE = re.compile(rb'"include_usage"\s*:\s*true')
_HEAD = b'{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"' + MODEL.encode()
_TOKENS = [f" tok{i}" for i in range(REPLY_TOKENS)]


def _usage(prompt_tokens: int) -> bytes:
    total = prompt_tokens + REPLY_TOKENS
    return b'{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}' % (prompt_tokens, REPLY_TOKENS, total)


def completion(prompt_tokens: int) -> bytes:
    return (
        b'{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"' + MODEL.encode()
        + b'","choices":[{"index":0,"message":{"role":"assistant","content":"' + "".join(_TOKENS).encode()
        + b'"},"finish_reason":"stop"}],"usage":' + _usage(prompt_tokens) + b"}"
    )  # fmt: skip


def _chunked(event: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(event), event)


def _event(delta: bytes, finish: bytes, with_usage: bool) -> bytes:
    tail = b',"usage":null' if with_usage else b""
    body = _HEAD + b'","choices":[{"index":0,"delta":' + delta + b',"finish_reason":' + finish + b"}]" + tail + b"}"
    return _chunked(b"data: " + body + b"\n\n")


def stream_events(with_usage: bool) -> list[bytes]:
    """Every chunked-encoded write of one stream except the usage chunk and the end."""
    events = [_event(b'{"role":"assistant","content":""}', b"null", with_usage)]
    events += [_event(b'{"content":"' + t.encode() + b'"}', b"null", with_usage) for t in _TOKENS]
    events.append(_event(b"{}", b'"stop"', with_usage))
    return events


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
STREAM_END = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"
_EVENTS = {True: stream_events(True), False: stream_events(False)}


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self.body)
        url = self.url
        self.body = []
        self.url = b""
        assert self.transport is not None
        if not url.endswith(b"/chat/completions"):
            self._send(404, b'{"error":{"message":"not found","type":"invalid_request_error"}}')
            return
        prompt_tokens = max(1, len(body) // 4)
        if _STREAM.search(body):
            with_usage = _INCLUDE_USAGE.search(body) is not None
            asyncio.get_running_loop().create_task(self._stream(prompt_tokens, with_usage))
        else:
            self._send(200, completion(prompt_tokens))

    def _send(self, status: int, payload: bytes) -> None:
        assert self.transport is not None
        reason = b"OK" if status == 200 else b"Not Found"
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % (
            status,
            reason,
            len(payload),
        )
        self.transport.write(head + payload)

    async def _stream(self, prompt_tokens: int, with_usage: bool) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(STREAM_HEAD)
        for event in _EVENTS[with_usage]:
            if transport.is_closing():
                return
            transport.write(event)
            await asyncio.sleep(0)  # one event per loop turn, as tokens leave a model server
        tail = b""
        if with_usage:
            tail = _chunked(b"data: " + _HEAD + b'","choices":[],"usage":' + _usage(prompt_tokens) + b"}\n\n")
        if not transport.is_closing():
            transport.write(tail + STREAM_END)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

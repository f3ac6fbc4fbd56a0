"""The thin HTTP layer over raw ASGI: the request, its body, and how responses go out.

No framework: each layer costs CPU on every request (see the README's benchmark).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tokenops.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Request:
    __slots__ = ("_started", "headers", "receive", "request_id", "response_headers", "scope", "send", "started")

    def __init__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.headers: dict[bytes, bytes] = dict(scope["headers"])
        self.request_id = request_id
        self.started = time.perf_counter()
        self.response_headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        self._started = False

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None

    @property
    def client_host(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None

    @property
    def response_started(self) -> bool:
        return self._started

    async def body(self, limit: int) -> bytes:
        """The whole body (gunzipped when sent with gzip), refused past `limit` bytes."""
        ctype = self.headers.get(b"content-type")
        if ctype is not None and not ctype.split(b";", 1)[0].strip().lower().endswith(b"json"):
            raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
        declared = self.headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
        chunks = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("client disconnected before sending the whole body", code="client_disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        encoding = self.headers.get(b"content-encoding", b"identity").lower()
        if encoding == b"gzip":
            return _gunzip(raw, limit)
        if encoding not in (b"identity", b""):
            raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding.decode('latin-1')!r}")
        return raw

    async def respond(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        all_headers = [JSON_TYPE, (b"content-length", str(len(body)).encode()), *self.response_headers]
        if headers:
            all_headers.extend(headers)
        self._started = True
        await self.send({"type": "http.response.start", "status": status, "headers": all_headers})
        await self.send({"type": "http.response.body", "body": body})

    async def start_stream(self) -> None:
        self._started = True
        await self.send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + self.response_headers})

    async def write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": False})


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise BadRequest("request body is not valid gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed request body is larger than the limit of {limit} bytes")
    return out


async def send_bytes(req: Request, status: int, body: bytes, content_type: bytes,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:  # fmt: skip
    """A non-JSON response (`Request.respond` speaks JSON only)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *req.response_headers]
    await req.send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await req.send({"type": "http.response.body", "body": body})

"""Connection hygiene at the socket: no client holds a connection it is not using.

uvicorn closes a connection left idle after a response, but not one that never finishes
a request: a socket that sends nothing, half a request line, headers without the blank
line, or a body a byte a minute stays open for ever, and enough of them exhaust the
process's file descriptors. This protocol closes each such connection after a timeout
(408 where a request had begun) and caps the connections one client address holds.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections import Counter
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_REPLY = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0  # from connect (or the request's first byte) to the end of its headers
    body_idle_s: float = 30.0  # longest silence while a request body is arriving
    per_address: int = 512  # open connections one client address may hold (0: no cap)

    @classmethod
    def from_env(cls, behind_proxies: bool) -> ConnectionLimits:
        """Behind load balancers every connection comes from one of them, so no per-address cap by default."""
        return cls(
            header_timeout_s=float(os.environ.get("TOKENOPS_HEADER_TIMEOUT_S", 10.0)),
            body_idle_s=float(os.environ.get("TOKENOPS_BODY_IDLE_S", 30.0)),
            per_address=int(os.environ.get("TOKENOPS_CONNECTIONS_PER_ADDRESS", 0 if behind_proxies else 512)),
        )


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, with read timeouts and a per-address connection cap."""

    limits = ConnectionLimits()
    open_by_address: Counter[str] = Counter()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        self._address = ""
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        cap = self.limits.per_address
        if cap and self.open_by_address[address] >= cap:
            transport.close()
            return
        self._address = address
        self.open_by_address[address] += 1
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address:
            self.open_by_address[self._address] -= 1
            if self.open_by_address[self._address] <= 0:
                del self.open_by_address[self._address]
            self._address = ""
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._arm(self.limits.body_idle_s)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.limits.body_idle_s)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete:
            # a response is still going out on this connection (a pipelined request is slow
            # behind it): never cut it; the keep-alive timeout takes over once it ends
            self._arm(self.limits.header_timeout_s)
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_REPLY)  # the request never ended: say why it is closed
        self.transport.close()


def protocol(limits: ConnectionLimits) -> type[GuardedHttp]:
    """The protocol class uvicorn instantiates per connection, with these limits."""
    return type("GuardedHttpWithLimits", (GuardedHttp,), {"limits": limits, "open_by_address": Counter()})


def raise_descriptor_limit() -> int:
    """Lift the soft open-files limit to the hard one (sockets are file descriptors); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft

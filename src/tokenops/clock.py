"""The clock that times what replicas must agree on: request start (the price version and budget period
a request is rated in), reservation expiry, ledger entries.

Embedded, it is this host's clock. Scaled out, it is the database's: each replica measures
the offset of its own clock from PostgreSQL's now and then (NTP's estimate: the reading is
taken to be at the midpoint of its round trip, and of a few readings the one with the
shortest round trip wins) and adds it to its own clock, so reading the time costs no round
trip on the request path and two replicas whose hosts disagree by seconds still agree within
a round trip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("tokenops.clock")

ReadClock = Callable[[], Awaitable[int | None]]  # the shared clock in ms, or None where this host's is the clock


class Clock:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.offset_ms = 0  # shared clock minus this host's
        self.error_ms: float | None = None  # half the round trip of the reading the offset came from

    def now_ms(self) -> int:
        return int(self._wall() * 1000) + self.offset_ms

    async def sync(self, read: ReadClock, readings: int = 3) -> None:
        """Measure the offset against the shared clock; nothing changes where there is none."""
        best: tuple[float, int] | None = None
        for _ in range(readings):
            sent = self._wall()
            shared = await read()
            received = self._wall()
            if shared is None:
                return
            trip = received - sent
            if best is None or trip < best[0]:
                best = (trip, shared - round((sent + received) * 500))
        if best is None:
            return
        trip, offset = best
        if abs(offset - self.offset_ms) > 1000:
            log.warning("this host's clock is %+d ms off the database's: replicas keep the database's", -offset)
        self.offset_ms, self.error_ms = offset, trip * 500

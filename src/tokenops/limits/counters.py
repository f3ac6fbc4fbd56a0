"""Counters behind one small interface: sliding-window sums and concurrency leases.

`MemoryCounters` is the embedded default and holds for one process only; the scaled-out
store puts the same operations on Redis so that every replica shares them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

PERIOD_GRACE_S = 3600  # a period counter outlives its period this long, so a late correction still lands


class Counters(Protocol):
    async def take(self, bucket: str, amount: int, limit: int, window_s: float) -> float:
        """Add `amount` if the window's total stays within `limit`: 0.0; else the seconds to wait."""

    async def adjust(self, bucket: str, delta: int, window_s: float) -> None:
        """Correct the current window by `delta` (an estimate replaced by the actual amount)."""

    async def total(self, bucket: str, window_s: float) -> float:
        """The sliding-window total now."""

    async def acquire(self, bucket: str, limit: int, lease_s: float) -> bool:
        """Take one of `limit` concurrent slots; a slot not released expires after `lease_s`."""

    async def release(self, bucket: str) -> None: ...

    async def held(self, bucket: str) -> int: ...

    async def add_within(self, bucket: str, need: int, want: int, limit: int, until_s: int) -> tuple[int, int]:
        """Add to the period counter `bucket`, kept until `until_s` (epoch seconds): nothing if `need` more
        would pass `limit`, else `want`, or as much of it as fits but at least `need`. Returns (added, total)."""


def within(total: int, need: int, want: int, limit: int) -> int:
    """What `add_within` adds to `total` (0 when even `need` does not fit; a negative `need` always fits)."""
    if total + need > limit and need > 0:
        return 0
    return max(need, min(want, limit - total))


@dataclass(slots=True)
class _Window:
    start: float
    current: float = 0.0
    previous: float = 0.0


class MemoryCounters:
    """Sliding-window counters (the previous fixed window weighted by its overlap) in one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._leases: dict[str, list[float]] = {}
        self._ops = 0
        # period counters, grouped by when they end: a period over is dropped whole, whatever its size
        self._periods: dict[int, dict[str, int]] = {}
        self._wall = time.time

    def _sweep(self, now: float) -> None:
        # millions of end users each leave a window behind: drop those that no longer count
        self._windows = {b: w for b, w in self._windows.items() if now - w.start < 2 * 3600}

    def _window(self, bucket: str, window_s: float) -> tuple[_Window, float]:
        now = self._clock()
        self._ops += 1
        if self._ops % 50_000 == 0:
            self._sweep(now)
        start = math.floor(now / window_s) * window_s
        win = self._windows.get(bucket)
        if win is None:
            win = self._windows[bucket] = _Window(start)
        elif win.start != start:
            win.previous = win.current if start - win.start == window_s else 0.0
            win.current = 0.0
            win.start = start
        return win, (now - start) / window_s

    def _estimate(self, win: _Window, elapsed: float) -> float:
        return win.previous * (1.0 - elapsed) + win.current

    async def take(self, bucket: str, amount: int, limit: int, window_s: float) -> float:
        win, elapsed = self._window(bucket, window_s)
        if self._estimate(win, elapsed) + amount <= limit:
            win.current += amount
            return 0.0
        if win.current + amount > limit:  # not even this window alone: wait for the next one
            return (1.0 - elapsed) * window_s + (window_s if amount > limit else 0.0)
        # the previous window's weight fades linearly: wait until enough of it has
        excess = self._estimate(win, elapsed) + amount - limit
        return max(0.001, excess / max(win.previous, 1e-9) * window_s)

    async def adjust(self, bucket: str, delta: int, window_s: float) -> None:
        win, _ = self._window(bucket, window_s)
        win.current = max(0.0, win.current + delta)

    async def total(self, bucket: str, window_s: float) -> float:
        win, elapsed = self._window(bucket, window_s)
        return self._estimate(win, elapsed)

    def _live(self, bucket: str) -> list[float]:
        now = self._clock()
        leases = [t for t in self._leases.get(bucket, ()) if t > now]
        self._leases[bucket] = leases
        return leases

    async def acquire(self, bucket: str, limit: int, lease_s: float) -> bool:
        leases = self._live(bucket)
        if len(leases) >= limit:
            return False
        leases.append(self._clock() + lease_s)
        return True

    async def release(self, bucket: str) -> None:
        leases = self._live(bucket)
        if leases:
            leases.remove(min(leases))
        if not leases:
            self._leases.pop(bucket, None)

    async def held(self, bucket: str) -> int:
        return len(self._live(bucket))

    async def add_within(self, bucket: str, need: int, want: int, limit: int, until_s: int) -> tuple[int, int]:
        self._ops += 1
        if self._ops % 1024 == 0:
            now = self._wall()
            for ended in [u for u in self._periods if u + PERIOD_GRACE_S <= now]:
                del self._periods[ended]
        group = self._periods.get(until_s)
        if group is None:
            group = self._periods[until_s] = {}
        total = group.get(bucket, 0)
        added = within(total, need, want, limit)
        if added:
            total = max(0, total + added)
            group[bucket] = total
        return added, total

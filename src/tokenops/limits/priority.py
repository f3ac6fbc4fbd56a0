"""Bulkheads: each deployment's capacity (concurrent requests) shared by priority class.

A class may always use its guaranteed share of a deployment; beyond it, it may borrow
what is free and what lower classes leave unused, never what a higher class is
guaranteed. Requests that find no room wait briefly, highest class first, then are refused.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
from dataclasses import dataclass, field

from tokenops.limits.config import CLASSES, LimitsConfig

RANK = {c: i for i, c in enumerate(CLASSES)}  # 0 is the highest


@dataclass(slots=True)
class _Waiter:
    rank: int
    seq: int
    klass: str
    deployments: list[str]
    future: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Bulkheads:
    def __init__(self) -> None:
        self._used: dict[str, Counter[str]] = {}
        self._waiters: list[_Waiter] = []
        self._seq = 0
        # (class, deployment) in admission order, for observation: the last 10,000 (a list trimmed at its front
        # moved all 10,000 on each admission)
        self.admitted: deque[tuple[str, str]] = deque(maxlen=10_000)

    def in_flight(self, deployment: str) -> dict[str, int]:
        return dict(self._used.get(deployment, Counter()))

    def _room(self, config: LimitsConfig, deployment: str, klass: str) -> bool:
        capacity = config.capacity.get(deployment)
        if capacity is None:
            return True
        used = self._used.get(deployment, Counter())
        total = sum(used.values())
        if total >= capacity:
            return False
        if used[klass] < math.floor(config.shares.get(klass, 0.0) * capacity):
            return True
        guarded = sum(
            max(math.floor(config.shares.get(c, 0.0) * capacity) - used[c], 0) for c in CLASSES if RANK[c] < RANK[klass]
        )
        return total + guarded < capacity

    def _take(self, deployment: str, klass: str) -> str:
        self._used.setdefault(deployment, Counter())[klass] += 1
        self.admitted.append((klass, deployment))
        return deployment

    async def enter(self, config: LimitsConfig, deployments: list[str], klass: str) -> str | None:
        """The deployment that admitted the request, or None when none had room within the class's wait."""
        rank = RANK[klass]
        for dep in deployments:
            ahead = any(w.rank < rank and dep in w.deployments for w in self._waiters)
            if not ahead and self._room(config, dep, klass):
                return self._take(dep, klass)
        self._seq += 1
        waiter = _Waiter(rank, self._seq, klass, deployments)
        self._waiters.append(waiter)
        self._waiters.sort(key=lambda w: (w.rank, w.seq))
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), config.queue_ms.get(klass, 0) / 1000)
        except TimeoutError:
            if waiter.future.done():  # granted just as the wait ran out: keep it
                return waiter.future.result()
            return None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def leave(self, config: LimitsConfig, deployment: str, klass: str) -> None:
        used = self._used.get(deployment)
        if used is None or used[klass] <= 0:
            return
        used[klass] -= 1
        for waiter in list(self._waiters):  # already in priority order
            if waiter.future.done():
                continue
            for dep in waiter.deployments:
                if self._room(config, dep, waiter.klass):
                    waiter.future.set_result(self._take(dep, waiter.klass))
                    self._waiters.remove(waiter)
                    break

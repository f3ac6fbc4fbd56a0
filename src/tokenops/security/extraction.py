"""Acting on extraction findings: record an event, alert, throttle the key progressively, or suspend it.

Throttles are shared between replicas through the counter store: an escalation is counted in a
THROTTLE_S window under the key, and every replica reads that count back (at most once a second
per key, after a request, off the request path), so a key throttled on one replica is throttled
on all of them from its next request there. The request path itself reads only this replica's copy.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from tokenops.errors import RateLimited
from tokenops.limits import Counters
from tokenops.security.detectors import Detectors
from tokenops.security.evidence import summary
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.reference import Reference
from tokenops.security.subject import Finding, Observation
from tokenops.store.admin import AdminStore, AuditDraft, SecurityEvent

log = logging.getLogger("tokenops.security")
THROTTLE_RPM = (6, 2, 1)  # requests per minute left to a key at each throttle level
THROTTLE_S = 900.0
COOLDOWN_S = 5.0  # one event per key and detector in this time, so a flood does not flood the log
REFRESH_S = 1.0  # how often a replica re-reads a key's shared throttle level


def _bucket(key: str) -> str:
    return f"xthrottle|{key}"


class Responder:
    def __init__(
        self, counters: Counters, clock: Callable[[], float] = time.monotonic, reference: Reference | None = None
    ) -> None:
        self.counters = counters
        self.detectors = Detectors(reference)
        self._clock = clock
        self.throttles: dict[str, tuple[int, float]] = {}  # key -> (level, until): this replica's copy
        self._read_at: dict[str, float] = {}
        self._last_event: dict[tuple[str, str], float] = {}
        self._suspended: set[str] = set()  # suspended from here: once is enough, whatever else fires

    def throttle_level(self, key: str) -> int:
        level, until = self.throttles.get(key, (0, 0.0))
        return level if until > self._clock() else 0

    async def check_throttle(self, key: str) -> None:
        level = self.throttle_level(key)
        if not level:
            return
        rpm = THROTTLE_RPM[level - 1]
        wait = await self.counters.take(f"throttle{level}|{key}", 1, rpm, 60.0)
        if wait:
            seconds = max(1, int(wait + 0.999))
            raise RateLimited(
                f"this key is throttled to {rpm} requests per minute after unusual traffic; retry after {seconds} s",
                code="rate_limit_extraction",
                headers={"retry-after": str(seconds)},
            )

    def pardon(self, key: str) -> None:
        """An operator marked the key benign: lift its throttle here at once."""
        self.throttles.pop(key, None)

    async def observe(
        self,
        obs: Observation,
        policy: ExtractionPolicy,
        store: AdminStore | None,
        changed: Callable[[], Awaitable[None]],
    ) -> list[SecurityEvent]:
        findings = [(obs.key, f) for f in self.detectors.observe(obs, policy)]
        findings += [(k, f) for members, f in self.detectors.sweep(obs.at, policy) for k in members]
        events = []
        for key, finding in findings:
            if finding.score < policy.threshold:
                continue
            now = self._clock()
            if now - self._last_event.get((key, finding.detector), -COOLDOWN_S) < COOLDOWN_S:
                continue
            self._last_event[(key, finding.detector)] = now
            tenant = self.detectors.keys[key].tenant if key in self.detectors.keys else obs.tenant
            events.append(await self._act(obs.at, tenant, key, finding, policy, store, changed))
        if len(self._last_event) > 65_536:
            self._last_event = {k: t for k, t in self._last_event.items() if t > self._clock() - COOLDOWN_S}
        await self._refresh(obs.key)
        return events

    async def _refresh(self, key: str) -> None:
        """Take another replica's throttle of this key into this replica's copy (at most once a second)."""
        now = self._clock()
        if self._read_at.get(key, 0.0) > now or key in self.detectors.appeals.keys:
            return
        self._read_at[key] = now + REFRESH_S
        shared = await self.counters.total(_bucket(key), THROTTLE_S)
        level = min(len(THROTTLE_RPM), math.ceil(shared - 1e-9)) if shared > 1e-9 else 0
        if level > self.throttle_level(key):
            self.throttles[key] = (level, now + THROTTLE_S)
        if len(self._read_at) > 65_536:
            self._read_at = {k: t for k, t in self._read_at.items() if t > now}

    async def _act(
        self,
        at: float,
        tenant: str,
        key: str,
        finding: Finding,
        policy: ExtractionPolicy,
        store: AdminStore | None,
        changed: Callable[[], Awaitable[None]],
    ) -> SecurityEvent:
        action = policy.action_for(tenant)
        evidence = dict(finding.evidence)
        if action == "throttle":
            level = min(self.throttle_level(key) + 1, len(THROTTLE_RPM))
            self.throttles[key] = (level, self._clock() + THROTTLE_S)
            await self.counters.adjust(_bucket(key), 1, THROTTLE_S)
            state = self.detectors.keys.get(key)
            if state is not None:  # "N a minute" counts the minute already past: the next request may be refused
                await self.counters.adjust(f"throttle{level}|{key}", state.recent.count, 60.0)
            evidence["throttle_level"] = level
            evidence["throttle_rpm"] = THROTTLE_RPM[level - 1]
        evidence["summary"] = summary(finding.detector, evidence)
        event = SecurityEvent(int(at * 1000), tenant, key, finding.detector, round(finding.score, 3), action, evidence)
        if action != "record":
            log.warning(
                "suspected bulk extraction: key %s of %s, %s score %.2f, action %s: %s",
                key,
                tenant,
                finding.detector,
                finding.score,
                action,
                evidence["summary"],
            )
        if store is not None:
            await store.add_event(event)
            if action == "suspend" and key not in self._suspended:
                self._suspended.add(key)
                draft = AuditDraft(
                    "security:" + finding.detector,
                    "keys.suspend",
                    key,
                    tenant,
                    {"status": "active"},
                    {"status": "suspended"},
                )
                await store.update_key(key, draft, status="suspended")
                await changed()
        return event

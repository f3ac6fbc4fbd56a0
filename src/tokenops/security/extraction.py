"""Acting on extraction findings: record an event, alert, throttle the key progressively, or suspend it."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from tokenops.errors import RateLimited
from tokenops.limits import Counters
from tokenops.security.detectors import Detectors, Finding, Observation
from tokenops.security.policy import ExtractionPolicy
from tokenops.store.admin import AdminStore, AuditDraft, SecurityEvent

log = logging.getLogger("tokenops.security")
THROTTLE_RPM = (6, 2, 1)  # requests per minute left to a key at each throttle level
THROTTLE_S = 900.0
COOLDOWN_S = 5.0  # one event per key and detector in this time, so a flood does not flood the log


class Responder:
    def __init__(self, counters: Counters, clock: Callable[[], float] = time.monotonic) -> None:
        self.counters = counters
        self.detectors = Detectors()
        self._clock = clock
        self.throttles: dict[str, tuple[int, float]] = {}  # key -> (level, until)
        self._last_event: dict[tuple[str, str], float] = {}

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

    async def observe(
        self,
        obs: Observation,
        policy: ExtractionPolicy,
        store: AdminStore | None,
        changed: Callable[[], Awaitable[None]],
    ) -> list[SecurityEvent]:
        events = []
        for finding in self.detectors.observe(obs, policy):
            if finding.score < policy.threshold:
                continue
            now = self._clock()
            if now - self._last_event.get((obs.key, finding.detector), -COOLDOWN_S) < COOLDOWN_S:
                continue
            self._last_event[(obs.key, finding.detector)] = now
            events.append(await self._act(obs, finding, policy, store, changed))
        return events

    async def _act(
        self,
        obs: Observation,
        finding: Finding,
        policy: ExtractionPolicy,
        store: AdminStore | None,
        changed: Callable[[], Awaitable[None]],
    ) -> SecurityEvent:
        action = policy.action_for(obs.tenant)
        evidence = dict(finding.evidence)
        if action == "throttle":
            level = min(self.throttle_level(obs.key) + 1, len(THROTTLE_RPM))
            self.throttles[obs.key] = (level, self._clock() + THROTTLE_S)
            evidence["throttle_level"] = level
            evidence["throttle_rpm"] = THROTTLE_RPM[level - 1]
        event = SecurityEvent(
            int(obs.at * 1000), obs.tenant, obs.key, finding.detector, round(finding.score, 3), action, evidence
        )
        if action != "record":
            log.warning(
                "suspected bulk extraction: key %s of %s, %s score %.2f, action %s",
                obs.key,
                obs.tenant,
                finding.detector,
                finding.score,
                action,
            )
        if store is not None:
            await store.add_event(event)
            if action == "suspend":
                draft = AuditDraft(
                    "security:" + finding.detector,
                    "keys.suspend",
                    obs.key,
                    obs.tenant,
                    {"status": "active"},
                    {"status": "suspended"},
                )
                await store.update_key(obs.key, draft, status="suspended")
                await changed()
        return event

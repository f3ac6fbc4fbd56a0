"""Telemetry of a running gateway: one sink observer feeds the metrics, the live dashboard
aggregates, the request log and (when configured) trace export; a once-a-second task
samples what only exists as state (deployment occupancy, extraction events in the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from tokenops.store import UsageRecord
from tokenops.telemetry.config import TelemetryConfig
from tokenops.telemetry.live import LiveStats
from tokenops.telemetry.logs import RequestLog
from tokenops.telemetry.metrics import Metrics
from tokenops.telemetry.otlp import SpanExporter
from tokenops.telemetry.pricing import money_of
from tokenops.telemetry.source import Source

log = logging.getLogger("tokenops.telemetry")
EVENTS_EVERY_S = 5


class Telemetry:
    def __init__(self, config: TelemetryConfig | None = None) -> None:
        self.config = config or TelemetryConfig.from_env()
        self.metrics = Metrics(self.config)
        self.live = LiveStats()
        self.source: Source | None = None
        self.request_log: RequestLog | None = None
        self.traces: SpanExporter | None = None
        self._events_seen = 0
        self._sampler: asyncio.Task[None] | None = None

    def start(self, source: Source, observers: list[Callable[[UsageRecord], None]]) -> None:
        self.source = source
        if self.config.request_log != "off":
            self.request_log = RequestLog(self.config.request_log)
        if self.config.otlp_endpoint:
            self.traces = SpanExporter(self.config.otlp_endpoint, self.config.service_name)
            self.traces.start()
        observers.append(self.observe)
        self._sampler = asyncio.create_task(self._sample())

    def observe(self, record: UsageRecord) -> None:
        source = self.source
        if source is None:
            return
        try:
            money = money_of(record, source.catalog, source.charging)
            self.metrics.observe(record, money)
            self.live.observe(record, money)
            if self.request_log is not None:
                self.request_log.write(record, money)
            if self.traces is not None:
                self.traces.add(record)
        except Exception:  # telemetry must never fail a request's settlement
            log.exception("telemetry of %s failed", record.request_id)

    async def _sample(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            source = self.source
            if source is None:
                continue
            try:  # a failed sample is logged and the next one taken: the sampler must outlive it
                self.live.busy.append({d: source.health.busy(d) for d in source.catalog.deployments})
                if tick % EVENTS_EVERY_S == 1:
                    await self.count_events()
            except Exception:
                log.exception("telemetry sample failed")

    async def count_events(self) -> None:
        """Count extraction events stored since the last look (by any replica)."""
        store = self.source.guard.store if self.source is not None else None
        if store is None:
            return
        newest = self._events_seen
        for event in await store.events(limit=1000):
            if event.id > self._events_seen:
                self.metrics.extraction.inc((self.metrics.tenant(event.tenant_id), event.detector, event.action))
                newest = max(newest, event.id)
        self._events_seen = newest

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        if self.traces is not None:
            await self.traces.stop()
        if self.request_log is not None:
            self.request_log.close()

"""Everything a running gateway holds, passed explicitly to each handler (no module globals)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import ipaddress
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tokenops.alerts import Alerts, alert_store_for
from tokenops.catalog import Catalog, CatalogSpec
from tokenops.catalog.load import SECTION_GROUPS, changed_groups
from tokenops.charging.catalog import parse_charging
from tokenops.charging.ledger import Entry
from tokenops.charging.pools import budget_pool, credit_leases, grant_leases
from tokenops.charging.service import ChargingService
from tokenops.charging.spool import Spool
from tokenops.charging.store import ChargingStore
from tokenops.clock import Clock
from tokenops.errors import ConfigError
from tokenops.export import ExportRelay, ExportSettings, outbox_for, relay_for
from tokenops.gateway.alerting import AlertWatch
from tokenops.gateway.compact import CompactionStep
from tokenops.gateway.settle import UsageSink
from tokenops.health import Health
from tokenops.keys import KeyHasher
from tokenops.providers import Provider, build_provider
from tokenops.providers.client import Upstream
from tokenops.providers.tokenize import Detections
from tokenops.quotas import EndUserQuotas
from tokenops.routing import ComplexityRouter
from tokenops.security import Guard
from tokenops.sessions import TranscriptStore
from tokenops.store import Store, UsageRecord
from tokenops.store.redis_feed import ChangeFeed
from tokenops.telemetry import Telemetry
from tokenops.tokenize import CachedCounter, Counter, counter_for


def trusted_proxies(value: str) -> str:
    """`TOKENOPS_TRUSTED_PROXIES`, checked: comma-separated addresses or networks (CIDR), or `*` for any."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"TOKENOPS_TRUSTED_PROXIES: {item!r} is not an address or a network") from None
    return ",".join(items)


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc keeps them after a large parse otherwise)."""
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


GC_YOUNG = 20_000  # allocations between collections of the young generation (Python's default: 700)


def tune_collector() -> None:
    """Keep the cyclic garbage collector off the request path, which it took a fifth of at the default settings
    (bench/results/profile-2026-12-07.md). What start-up left (modules, the catalog snapshot, detectors' reference
    data) is frozen, so full collections no longer walk it; and the young generation is collected every 20,000
    allocations rather than 700, so most of a request's objects are freed by reference counting before a collection
    would find them alive and carry them into the older generations."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, middle, old)


@dataclass(frozen=True, slots=True)
class Settings:
    body_limit: int = 16 * 1024 * 1024
    shutdown_grace_s: float = 30.0
    upstream_connections: int = 1000
    max_in_flight: int = 4096  # requests in flight in this process before new ones are shed with 503
    replica_stale_s: float = 10.0  # scaled out: a replica silent this long is dead; its reservations are taken over
    interim_usage_s: float = 1.0  # a long stream's usage so far is kept on record this often (interim usage)
    trusted_proxies: str = ""  # addresses or networks whose X-Forwarded-For names the client (load balancers)
    export: ExportSettings = field(default_factory=ExportSettings)  # usage export to NATS JetStream
    tune_gc: bool = False  # the serving process: freeze what start-up left, collect the young generation less often

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            body_limit=int(os.environ.get("TOKENOPS_BODY_LIMIT", 16 * 1024 * 1024)),
            shutdown_grace_s=float(os.environ.get("TOKENOPS_SHUTDOWN_GRACE_S", 30.0)),
            max_in_flight=int(os.environ.get("TOKENOPS_MAX_IN_FLIGHT", 4096)),
            replica_stale_s=float(os.environ.get("TOKENOPS_REPLICA_STALE_S", 10.0)),
            interim_usage_s=max(0.05, float(os.environ.get("TOKENOPS_INTERIM_USAGE_S", 1.0))),
            trusted_proxies=trusted_proxies(os.environ.get("TOKENOPS_TRUSTED_PROXIES", "")),
            export=ExportSettings.from_env(),
            tune_gc=os.environ.get("TOKENOPS_TUNE_GC", "1") != "0",
        )


@dataclass
class AppState:
    store: Store
    hasher: KeyHasher
    ledger: ChargingStore  # the charging store on the same database as `store`
    archive: TranscriptStore | None = None  # where transcripts are kept (inside each tenant's residency)
    spec: CatalogSpec | None = None
    settings: Settings = field(default_factory=Settings)
    health: Health = field(default_factory=Health)
    guard: Guard = field(default_factory=Guard)  # limits, bulkheads, extraction defence
    scorer: ComplexityRouter | None = None  # loaded once a catalog has a complexity-routed alias
    telemetry: Telemetry = field(default_factory=Telemetry)  # metrics, request log, dashboard aggregates, traces
    catalog: Catalog = field(init=False)
    providers: dict[str, Provider] = field(default_factory=dict)
    tokenize_endpoints: Detections = field(default_factory=dict)  # what each upstream server offers, kept on reload
    sink: UsageSink = field(init=False)
    upstream: Upstream | None = None  # keep-alive connections to the upstreams, shared by every provider
    ready: bool = False
    draining: bool = False
    in_flight: int = 0
    charging: ChargingService = field(init=False)
    clock: Clock = field(default_factory=Clock)  # scaled out, set to the database's clock
    feed: ChangeFeed | None = None  # catalog changes announced between replicas (scaled out only)
    spool_dir: Path | None = None  # usage spooled here while PostgreSQL is unreachable (scaled out only)
    _upkeep: asyncio.Task[None] | None = None
    _interim: asyncio.Task[None] | None = None
    compaction: CompactionStep = field(init=False)
    quotas: EndUserQuotas = field(init=False)  # each consumer tenant's end users' quotas
    export: ExportRelay | None = None  # publishes the outbox to the operator's stream (when configured)
    alerts: Alerts = field(init=False)  # raised once per crossing, delivered to webhooks
    watch: AlertWatch = field(init=False)  # what raises them
    counters: dict[str, Counter] = field(default_factory=dict)  # per tokenizer, as `counter` hands them out
    _next_outbox_prune: float = 0.0
    _next_purge: float = 0.0
    _next_clock_sync: float = 0.0

    async def start(self) -> None:
        await self.store.open()
        await self.clock.sync(self.store.clock_ms)
        spec, groups = self.spec, await self._groups_to_seed()
        if spec is not None and "catalog" in groups:
            await self.store.seed(spec, self.hasher)
        ledger = self.ledger
        spool = Spool(self.spool_dir) if self.spool_dir is not None else None
        if spool is not None:
            spool.open()
        self.sink = UsageSink(self.store, ledger, spool=spool, clock=self.clock)
        self.charging = ChargingService(ledger, stale_ms=int(self.settings.replica_stale_s * 1000), clock=self.clock)
        self.charging.leases = credit_leases(self.guard.counters, self.charging.headroom, ledger.writer)
        self.charging.grant_leases = grant_leases(self.guard.counters, self.charging.grant_left, ledger.writer)
        self.charging.budget_pool = budget_pool(self.guard.counters, self.charging.budget_usage)
        if self.archive is not None:
            await self.archive.open()
        self.compaction = CompactionStep(self.archive)
        await self.charging.start(parse_charging(spec) if spec is not None and "charging" in groups else None)
        self.upstream = Upstream(self.settings.upstream_connections)
        self.sink.observers.append(self.guard.settled)
        ops = spec.raw if spec is not None and "admin" in groups else None  # limits, policies, quotas and alerts
        await self.guard.start(ops, self.hasher, self.reload)
        self.quotas = EndUserQuotas(self.guard.counters, self.guard.store)
        await self.quotas.seed(ops)
        self.sink.charged.append(self._quota_settled)
        self.alerts = Alerts(alert_store_for(self.store), self.guard.store, self.clock.now_ms)
        await self.alerts.seed(ops)
        self.watch = AlertWatch(self.alerts, self.charging, self.guard.store, lambda: self.catalog)
        self.sink.charged.append(self.watch.observe)
        self.quotas.on_crossing = self.watch.quota_crossed
        if self.feed is not None:
            await self.feed.start(self.guard.nudge.set)
        await self.reload()
        self.telemetry.start(self, self.sink.observers)  # after the first snapshot: it samples the catalog
        await self.charging.recover()  # after reload: rating needs the tenants' sectors
        if self.settings.export.enabled and self.settings.export.in_gateway:
            self.export = relay_for(self.settings.export, self.store, self.clock.now_ms)
            self.export.start()
        self.alerts.start()
        self._upkeep = asyncio.create_task(self._charging_upkeep())
        self._interim = asyncio.create_task(self._interim_usage(self.settings.interim_usage_s))
        if spec is not None and spec.fingerprint:
            await self.store.mark_seeded(spec.fingerprint)
        self.spec = spec = None  # the parsed file is not kept (tens of MB at operator scale): the store is the truth
        gc.collect()
        if self.settings.tune_gc:
            tune_collector()
        release_free_memory()
        self.ready = True

    async def _groups_to_seed(self) -> set[str]:
        """Which groups of the catalog's sections to seed: those changed since the store was last seeded from a
        file (every group of a catalog not read from a file)."""
        if self.spec is None:
            return set()
        if not self.spec.fingerprint:
            return set(SECTION_GROUPS)
        groups = changed_groups(self.spec.fingerprint, await self.store.seeded())
        logging.getLogger("tokenops").info("seeding the catalog's changed sections: %s", sorted(groups) or "none")
        return groups

    async def reload(self) -> None:
        """Take a fresh catalog snapshot from the store and rebuild the providers."""
        assert self.upstream is not None
        catalog = await self.store.load_catalog()
        providers = {}
        for dep in catalog.deployments.values():
            model = catalog.models[dep.model]
            providers[dep.id] = build_provider(dep, model, self.upstream, self.tokenize_endpoints)
        if self.scorer is None and any(a.router == "complexity" for a in catalog.aliases.values()):
            self.scorer = await asyncio.to_thread(ComplexityRouter.load_default)
        for family in sorted({m.tokenizer for m in catalog.models.values()}):
            await asyncio.to_thread(counter_for, family)  # loaded now, not by the first request that needs it
        self.catalog = catalog
        self.providers = providers
        self.charging.sectors = {t.id: t.sector for t in catalog.tenants.values()}
        await self.guard.reload()
        await self.quotas.reload()
        await self.alerts.reload()
        await self.charging.reload_config()  # prices, budgets and limits changed through any replica

    async def _charging_upkeep(self, every_s: float = 1.0) -> None:
        """Apply top-ups made elsewhere, beat the heart, settle expired reservations, store budget alerts.

        Each step runs even when another fails: with the database away, the spool is still
        replayed as soon as it answers.
        """
        steps: list[Callable[[], Awaitable[object]]] = [
            self.charging.refresh, lambda: self.charging.beat(time.monotonic()), self._sync_clock,
            self.charging.sweep, self.watch.tick, self._budget_alerts, self._purge_transcripts,
            self.charging.renew_plans, self.charging.flush_attempts, self._prune_outbox,
        ]  # fmt: skip
        while True:
            await asyncio.sleep(every_s)
            self.sink.flush_holds()  # writes reservations due on record, and replays a spool
            failed = []
            for step in steps:
                try:
                    await step()
                except Exception as exc:
                    failed.append(exc)
            if failed:
                logging.getLogger("tokenops.charging").error(
                    "charging upkeep: %d of %d steps failed", len(failed), len(steps), exc_info=failed[0]
                )

    async def _budget_alerts(self) -> None:
        """Store the budget and allowance alerts raised since the last tick, then send them."""
        await self.watch.budgets(await self.charging.flush_alerts())

    async def _interim_usage(self, every_s: float) -> None:
        """At each interim interval, keep every long stream's usage so far in its reservation on record."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sink.measure()
            except Exception:
                logging.getLogger("tokenops.charging").exception("interim usage not measured")
            self.sink.flush_holds()

    async def _sync_clock(self, every_s: float = 30.0) -> None:
        """Measure this host's clock against the database's again (hosts drift; the database is the reference)."""
        if time.monotonic() >= self._next_clock_sync:
            self._next_clock_sync = time.monotonic() + every_s
            await self.clock.sync(self.store.clock_ms)

    async def _purge_transcripts(self, every_s: float = 3600.0) -> None:
        """Drop archived transcripts past each tenant's retention period (checked hourly)."""
        now = time.time()
        archive = self.compaction.archive
        if archive is None or now < self._next_purge:
            return
        self._next_purge = now + every_s
        for tenant in self.catalog.tenants.values():
            await archive.purge(tenant.id, int((now - tenant.retention_days * 86400) * 1000))

    async def _prune_outbox(self, every_s: float = 600.0) -> None:
        """With no export configured, the outbox keeps only its last days (an export enabled later starts there)."""
        if self.settings.export.enabled or time.monotonic() < self._next_outbox_prune:
            return
        self._next_outbox_prune = time.monotonic() + every_s
        retain_ms = int(self.settings.export.retain_days * 86_400_000)
        await outbox_for(self.store).prune(self.clock.now_ms() - retain_ms)

    def _quota_settled(self, record: UsageRecord, charge: Entry | None) -> None:
        self.quotas.settled(record.request_id, record.input_tokens + record.output_tokens,
                            -charge.amount if charge is not None else 0)  # fmt: skip

    def counter(self, model: str) -> Counter:
        """The model's counter; an exact one remembers the texts it counted (`CachedCounter`)."""
        found = self.catalog.models.get(model)
        spec = found.tokenizer if found else "estimate"
        counter = self.counters.get(spec)
        if counter is None:
            counter = counter_for(spec)
            counter = self.counters[spec] = CachedCounter(counter) if counter.exact else counter
        return counter

    async def stop(self) -> None:
        self.ready = False
        for task in (self._upkeep, self._interim):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.sink.drain()
        with contextlib.suppress(Exception):  # logged by it; the attempts not written are lost with the process
            await self.charging.flush_attempts()
        if self.export is not None:
            await self.export.stop()  # what it did not publish, the next replica (or start) publishes
        self.sink.close_spool()
        if self.charging.leases is not None:
            await self.charging.leases.close(self.charging.credit.accounts.values())
        if self.charging.grant_leases is not None:
            await self.charging.grant_leases.close_all()
        if self.charging.budget_pool is not None:
            await self.charging.budget_pool.close(self.charging.credit.budgets.counters.values())
        with contextlib.suppress(Exception):  # unreachable: the heartbeat goes stale instead
            await self.charging.store.retire()
        self.compaction.close()
        await self.telemetry.stop()
        await self.quotas.stop()
        await self.alerts.stop()
        await self.watch.stop()
        await self.guard.stop()
        if self.feed is not None:
            await self.feed.stop()
        for provider in self.providers.values():
            await provider.close()
        if self.upstream is not None:
            await self.upstream.close()
        await self.store.close()

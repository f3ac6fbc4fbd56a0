"""The traffic guard: admits each request against limits, throttles and bulkheads, and learns
from each settled request (rate-limit corrections, extraction detectors and their actions).

The gateway holds one; the admin API changes what it enforces through the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tokenops.errors import ConfigError, PermissionDenied, ServiceUnavailable
from tokenops.limits import (
    Bulkheads,
    Caller,
    Counters,
    Limiter,
    LimitsConfig,
    MemoryCounters,
    Ticket,
    limits_doc,
    parse_limits,
)
from tokenops.limits.resilient import CURRENT_TENANT, ResilientCounters
from tokenops.security.admin_config import parse_admin
from tokenops.security.appeals import load_appeals
from tokenops.security.extraction import Responder
from tokenops.security.policy import ExtractionPolicy, parse_policy
from tokenops.security.prompt import Prompt
from tokenops.security.subject import Observation
from tokenops.store import UsageRecord
from tokenops.store.admin import AdminStore, AdminToken

log = logging.getLogger("tokenops.security")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
STALE_S = 900.0
POLL_S = 0.25  # how often a replica looks for changes made through another replica


@dataclass(frozen=True, slots=True)
class Admission:
    request_id: str
    tenant: str
    key: str
    model: str
    end_user: str | None
    client: str | None
    estimate: int
    prompt: Prompt | None
    deployments: list[str]
    session: bool = False


@dataclass(slots=True)
class _Pending:
    admission: Admission
    ticket: Ticket
    klass: str
    deployment: str | None
    since: float


class Guard:
    def __init__(self, store: AdminStore | None = None, counters: Counters | None = None) -> None:
        self.store = store
        self.counters: Counters = counters or MemoryCounters()
        self.limiter = Limiter(self.counters)
        if isinstance(self.counters, ResilientCounters):  # a counter-store outage follows each tenant's rule
            self.counters.rule_for = lambda tenant: self.config.outage_for(tenant)
        self.bulkheads = Bulkheads()
        self.config = LimitsConfig()
        self.policy = ExtractionPolicy()
        self.allowlist: tuple[str, ...] = ()
        self.key_networks: dict[str, tuple[Network, ...]] = {}
        self.responder = Responder(self.counters)
        self.seeded_keys: frozenset[str] = frozenset()  # keys the catalog file made (not "created together")
        self._pending: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._version = -1
        self.nudge = asyncio.Event()  # set when another replica announces a change: look now, not at the next poll
        self._reload: Callable[[], Awaitable[None]] | None = None

    async def start(
        self, raw: dict[str, Any] | None, hash_token: Callable[[str], str], reload: Callable[[], Awaitable[None]]
    ) -> None:
        """Open the admin store and seed it from the catalog (never overwriting); then watch for changes."""
        self._reload = reload
        if self.store is None:
            return
        await self.store.open()
        if raw is not None:
            self.seeded_keys = frozenset(
                str(k.get("id")) for t in raw.get("tenants") or () if isinstance(t, dict)
                for k in t.get("keys") or () if isinstance(k, dict)
            )  # fmt: skip
            admin = parse_admin(raw.get("admin"))
            policies = raw.get("policies") or {}
            if not isinstance(policies, dict):
                raise ConfigError("catalog.policies: must be a mapping")
            parse_policy(policies.get("extraction"))
            tokens = [
                AdminToken(t.id, t.role, t.tenant_id, t.token_hash or hash_token(p or "")) for t, p in admin.tokens
            ]
            docs = {
                ("limits", "current"): limits_doc(parse_limits(raw.get("limits"))),
                ("policy", "extraction"): dict(policies.get("extraction") or {}),
                ("admin", "settings"): {"upstream_allowlist": list(admin.upstream_allowlist)},
            }
            await self.store.seed_admin(tokens, docs)
        self._version = await self.store.version()
        self._poller = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        assert self.store is not None and self._reload is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.nudge.wait(), POLL_S)
            self.nudge.clear()
            try:
                version = await self.store.version()
                if version != self._version:
                    self._version = version
                    await self._reload()
            except Exception:
                log.exception("reloading the catalog after a change failed")

    async def changed(self) -> None:
        """A change was just stored here: take it into the snapshot now, not at the next poll."""
        if self.store is not None and self._reload is not None:
            self._version = await self.store.version()  # the poller need not reload it again
            await self._reload()

    async def reload(self) -> None:
        if self.store is None:
            return
        try:
            config = parse_limits(await self.store.get_doc("limits", "current"), "limits")
            policy = parse_policy(await self.store.get_doc("policy", "extraction"), "policies.extraction")
        except ConfigError as exc:
            log.error("stored limits or policy are invalid, keeping the previous ones: %s", exc)
            return
        self.config = config
        self.policy = policy
        settings = await self.store.get_doc("admin", "settings") or {}
        self.allowlist = tuple(settings.get("upstream_allowlist") or ())
        networks = {}
        for key_id, doc in (await self.store.docs("key_policy")).items():
            networks[key_id] = tuple(ipaddress.ip_network(n, strict=False) for n in doc.get("allowed_networks", ()))
        self.key_networks = networks
        detectors = self.responder.detectors
        detectors.appeals, detectors.reference = load_appeals(await self.store.docs("security_benign"))
        for key in detectors.appeals.keys:
            self.responder.pardon(key)
        detectors.links.created = {
            row.id: (row.tenant_id, row.created_ms / 1000.0)
            for row in await self.store.keys()
            if row.id not in self.seeded_keys and row.status == "active"
        }

    async def admit(self, adm: Admission) -> str | None:
        """Admit the request (the deployment whose bulkhead took it, if any) or raise the refusal."""
        self._check_address(adm)
        scope = CURRENT_TENANT.set(adm.tenant)
        try:
            await self.responder.check_throttle(adm.key)
            caller = Caller(adm.tenant, adm.key, adm.model, adm.end_user)
            ticket = await self.limiter.admit(self.config, caller, adm.estimate)
        finally:
            CURRENT_TENANT.reset(scope)
        klass = self.config.class_of(adm.tenant)
        deployment = await self.bulkheads.enter(self.config, adm.deployments, klass)
        if deployment is None:
            await self.limiter.release(ticket)
            raise ServiceUnavailable(
                f"every deployment for this request is at capacity for the {klass} class; retry shortly",
                code="capacity_exceeded",
                headers={"retry-after": "1"},
            )
        self._pending[adm.request_id] = _Pending(adm, ticket, klass, deployment, time.monotonic())
        if len(self._pending) % 1024 == 0:
            self._sweep()
        return deployment

    def _sweep(self) -> None:
        # a request that died without a usage record (a crash, not a refusal) must not hold its slot forever
        cutoff = time.monotonic() - STALE_S
        for request_id, pending in list(self._pending.items()):
            if pending.since < cutoff:
                del self._pending[request_id]
                if pending.deployment is not None:
                    self.bulkheads.leave(self.config, pending.deployment, pending.klass)

    def _check_address(self, adm: Admission) -> None:
        networks = self.key_networks.get(adm.key)
        if not networks:
            return
        try:
            address = ipaddress.ip_address(adm.client or "")
        except ValueError:
            address = None
        if address is None or not any(address in n for n in networks):
            raise PermissionDenied("this key may not be used from this client address", code="client_not_allowed")

    def settled(self, record: UsageRecord) -> None:
        """The usage sink's observer: every request that was admitted here ends here, once."""
        pending = self._pending.pop(record.request_id, None)
        if pending is None:
            return
        if pending.deployment is not None:
            self.bulkheads.leave(self.config, pending.deployment, pending.klass)
        task = asyncio.get_running_loop().create_task(self._learn(pending, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _learn(self, pending: _Pending, record: UsageRecord) -> None:
        CURRENT_TENANT.set(pending.admission.tenant)  # this task's own context
        try:
            await self.limiter.settle(pending.ticket, record.input_tokens + record.output_tokens)
            if record.status == 200:
                adm = pending.admission
                observation = Observation(
                    time.time(), adm.tenant, adm.key, record.input_tokens, record.output_tokens, adm.prompt,
                    adm.client, adm.end_user, adm.session,
                )  # fmt: skip
                await self.responder.observe(observation, self.policy, self.store, self.changed)
        except Exception:
            log.exception("settling request %s in the guard failed", record.request_id)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.store is not None:
            await self.store.close()

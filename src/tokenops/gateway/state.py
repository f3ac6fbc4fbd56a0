"""Everything a running gateway holds, passed explicitly to each handler (no module globals)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import aiohttp

from tokenops.catalog import Catalog, CatalogSpec
from tokenops.gateway.settle import UsageSink
from tokenops.health import Health
from tokenops.keys import KeyHasher
from tokenops.providers import Provider, build_provider
from tokenops.store import Store
from tokenops.tokenize import Counter, counter_for


@dataclass(frozen=True, slots=True)
class Settings:
    body_limit: int = 16 * 1024 * 1024
    shutdown_grace_s: float = 30.0
    upstream_connections: int = 1000
    max_in_flight: int = 4096  # requests in flight in this process before new ones are shed with 503

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            body_limit=int(os.environ.get("TOKENOPS_BODY_LIMIT", 16 * 1024 * 1024)),
            shutdown_grace_s=float(os.environ.get("TOKENOPS_SHUTDOWN_GRACE_S", 30.0)),
            max_in_flight=int(os.environ.get("TOKENOPS_MAX_IN_FLIGHT", 4096)),
        )


@dataclass
class AppState:
    store: Store
    hasher: KeyHasher
    spec: CatalogSpec | None = None
    settings: Settings = field(default_factory=Settings)
    health: Health = field(default_factory=Health)
    catalog: Catalog = field(init=False)
    providers: dict[str, Provider] = field(default_factory=dict)
    sink: UsageSink = field(init=False)
    session: aiohttp.ClientSession | None = None
    ready: bool = False
    draining: bool = False
    in_flight: int = 0

    async def start(self) -> None:
        await self.store.open()
        if self.spec is not None:
            await self.store.seed(self.spec, self.hasher)
        self.sink = UsageSink(self.store)
        connector = aiohttp.TCPConnector(limit=self.settings.upstream_connections, limit_per_host=0, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        await self.reload()
        self.ready = True

    async def reload(self) -> None:
        """Take a fresh catalog snapshot from the store and rebuild the providers."""
        assert self.session is not None
        catalog = await self.store.load_catalog()
        providers = {}
        for dep in catalog.deployments.values():
            model = catalog.models[dep.model]
            providers[dep.id] = build_provider(dep, model, self.session)
        self.catalog = catalog
        self.providers = providers

    def counter(self, model: str) -> Counter:
        found = self.catalog.models.get(model)
        return counter_for(found.tokenizer if found else "estimate")

    async def stop(self) -> None:
        self.ready = False
        await self.sink.drain()
        for provider in self.providers.values():
            await provider.close()
        if self.session is not None:
            await self.session.close()
        await self.store.close()

"""Run the gateway (or the simulated upstream) under uvicorn with uvloop and httptools."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

import uvicorn

from tokenops.assembly import assemble
from tokenops.catalog import CatalogSpec, load_catalog
from tokenops.catalog.load import file_digest, read_catalog_file
from tokenops.connections import ConnectionLimits, protocol, raise_descriptor_limit
from tokenops.edge.app import Gateway
from tokenops.gateway.state import AppState, Settings
from tokenops.keys import KeyHasher, load_secret
from tokenops.security import Guard
from tokenops.simulator.engine import SimConfig
from tokenops.simulator.server import SimServer
from tokenops.store.backing import Backing, main_store


def build_gateway(
    spec: CatalogSpec | None, home: Path, settings: Settings | None = None, backing: Backing | None = None
) -> Gateway:
    parts = assemble(backing or Backing(), home)
    stores = parts.stores
    hasher = KeyHasher(load_secret(home))
    state = AppState(store=stores.store, hasher=hasher, ledger=parts.ledger, archive=parts.transcripts, spec=spec,
                     settings=settings or Settings())  # fmt: skip
    parts.transcripts.residency = lambda tenant: state.catalog.tenants[tenant].residency
    state.guard = Guard(stores.admin, stores.counters)
    state.feed = stores.feed
    state.spool_dir = stores.spool_dir
    return Gateway(state)


def _run(
    app: object, host: str, port: int, grace_s: float, trusted_proxies: str = "", sock: socket.socket | None = None
) -> None:
    """Serve `app` on host:port, or on `sock` when a parent bound the port for several workers."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    raise_descriptor_limit()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http=protocol(ConnectionLimits.from_env(behind_proxies=bool(trusted_proxies))),
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=int(grace_s),
        backlog=4096,
        # X-Forwarded-For only from the load balancers named: client addresses feed key allowlists and the
        # extraction defence, so a client must not be able to choose its own
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies or None,
        server_header=False,
        timeout_keep_alive=15,  # idle connections (slow or vanished clients) are closed
        h11_max_incomplete_event_size=64 * 1024,  # header limit when running on h11
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock] if sock is not None else None)
    if not server.started:
        sys.exit(3)  # as uvicorn.run: start-up failed (the port taken, the lifespan refused)


def serve(
    spec: CatalogSpec | None, home: Path, host: str, port: int, backing: Backing | None = None,
    sock: socket.socket | None = None,
) -> None:  # fmt: skip
    settings = Settings.from_env()
    app = build_gateway(spec, home, settings, backing)
    del spec  # the gateway drops the parsed file once it has seeded the store: nothing else may hold it
    _run(app, host, port, settings.shutdown_grace_s, settings.trusted_proxies, sock)


def catalog_to_seed(path: Path, home: Path, backing: Backing | None = None) -> CatalogSpec | None:
    """The catalog file, parsed, unless the store was last seeded from this very file: then None, and the
    gateway starts from the store alone (a 37,000-tenant catalog is not parsed again at every restart)."""
    digest = file_digest(read_catalog_file(path))

    async def stored() -> dict[str, object] | None:
        store = main_store(backing or Backing(), home)
        await store.open()
        try:
            return await store.seeded()
        finally:
            await store.close()

    if backing is not None and backing.database_url is None and not (home / "tokenops.db").exists():
        return load_catalog(path)
    if (asyncio.run(stored()) or {}).get("file") == digest:
        logging.getLogger("tokenops").info("%s is unchanged since it seeded the store: not read again", path)
        return None
    return load_catalog(path)


def simulate(config: SimConfig, host: str, port: int) -> None:
    _run(SimServer(config), host, port, 5)

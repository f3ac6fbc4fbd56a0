"""Run the gateway (or the simulated upstream) under uvicorn with uvloop and httptools."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import uvicorn

from tokenops.catalog import CatalogSpec
from tokenops.connections import ConnectionLimits, protocol, raise_descriptor_limit
from tokenops.edge.app import Gateway
from tokenops.gateway.state import AppState, Settings
from tokenops.keys import KeyHasher, load_secret
from tokenops.security import Guard
from tokenops.simulator.engine import SimConfig
from tokenops.simulator.server import SimServer
from tokenops.store.backing import Backing, open_stores


def build_gateway(
    spec: CatalogSpec | None, home: Path, settings: Settings | None = None, backing: Backing | None = None
) -> Gateway:
    stores = open_stores(backing or Backing(), home)
    hasher = KeyHasher(load_secret(home))
    state = AppState(store=stores.store, hasher=hasher, spec=spec, settings=settings or Settings())
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
    _run(app, host, port, settings.shutdown_grace_s, settings.trusted_proxies, sock)


def simulate(config: SimConfig, host: str, port: int) -> None:
    _run(SimServer(config), host, port, 5)

"""Real servers on 127.0.0.1 for the tests: the gateway and the simulated upstream over HTTP."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from tests.alert_support import receiver  # noqa: F401 (fixture)
from tests.export_support import export_stream, nats_server  # noqa: F401 (fixtures)
from tests.scaleout_support import backend, pg_database, pg_schema, redis_base, redis_prefix  # noqa: F401 (fixtures)
from tokenops.catalog import parse_catalog
from tokenops.gateway.state import Settings
from tokenops.server import build_gateway
from tokenops.simulator.engine import SimConfig
from tokenops.simulator.server import SimServer
from tokenops.store.backing import Backing

ROOT = Path(__file__).resolve().parent.parent


class ServerThread:
    """A uvicorn server on its own thread and event loop, on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            loop="asyncio",
            http="httptools",
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (to reach its state safely)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


def demo_catalog(fast: bool = True) -> dict[str, Any]:
    """The demo catalog, with the simulated models' pacing removed so tests run fast."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo.yaml").read_text())
    if fast:
        for dep in data["deployments"]:
            dep["simulate"] = {}
    return data


@pytest.fixture
def sim_upstream() -> Iterator[ServerThread]:
    server = ServerThread(SimServer(SimConfig())).start()
    yield server
    server.stop()


def http_catalog(upstream_url: str) -> dict[str, Any]:
    """The demo catalog with every chat and embedding deployment served over HTTP by `upstream_url`."""
    data = demo_catalog()
    for dep in data["deployments"]:
        dep["provider"] = "openai"
        dep["base_url"] = upstream_url + "/v1"
        dep.pop("simulate", None)
    return data


def anthropic_catalog(upstream_url: str) -> dict[str, Any]:
    """`http_catalog`, with every chat deployment reached through the Anthropic adapter instead."""
    data = http_catalog(upstream_url)
    chat_models = {m["name"] for m in data["models"] if m["kind"] == "chat"}
    for dep in data["deployments"]:
        if dep["model"] in chat_models:
            dep["provider"] = "anthropic"
    return data


class Gateway:
    def __init__(self, server: ServerThread, home: Path) -> None:
        self.server = server
        self.home = home
        self.url = server.url
        self.state = server.app.state

    def records(self, **where: Any) -> list[dict[str, Any]]:
        db = sqlite3.connect(self.home / "tokenops.db")
        db.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in db.execute("SELECT * FROM usage_records ORDER BY created_ms, rowid")]
        finally:
            db.close()
        return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


def start_gateway(
    catalog: dict[str, Any], home: Path, settings: Settings | None = None, backing: Backing | None = None
) -> Gateway:
    app = build_gateway(parse_catalog(catalog), home, settings, backing)
    return Gateway(ServerThread(app).start(), home)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = start_gateway(demo_catalog(), tmp_path / "home")
    yield gw
    gw.server.stop()


@pytest.fixture
def http_gateway(tmp_path: Path, sim_upstream: ServerThread) -> Iterator[Gateway]:
    """A gateway whose every deployment is the simulated upstream over real HTTP."""
    gw = start_gateway(http_catalog(sim_upstream.url), tmp_path / "home")
    yield gw
    gw.server.stop()


@pytest.fixture
def anthropic_gateway(tmp_path: Path, sim_upstream: ServerThread) -> Iterator[Gateway]:
    """A gateway whose chat deployments are the simulated upstream speaking Anthropic's wire format."""
    gw = start_gateway(anthropic_catalog(sim_upstream.url), tmp_path / "home")
    yield gw
    gw.server.stop()


@pytest.fixture(params=["embedded", "scaled"])
def gateways(request: pytest.FixtureRequest) -> list[Gateway]:
    """The module's own `embedded` (one gateway on SQLite) and `scaled` (replicas on PostgreSQL and Redis) fixtures,
    each in turn."""
    found: list[Gateway] = request.getfixturevalue(request.param)
    return found

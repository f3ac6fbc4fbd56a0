"""Redis goes away under load: each tenant gets what its outage policy says (a throwaway `redis-server` of
this test's own, so killing it harms nothing), and everything is normal again once Redis is back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis

from tests.charging_support import priced_catalog
from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.test_process import free_port
from tokenops.errors import ConfigError
from tokenops.limits import parse_limits
from tokenops.store.backing import Backing

CLOSED = "sk-demo-acme"  # acme-manufacturing: fail_closed
LOCAL = "sk-demo-consumer"  # ringback-app: local, within its declared outage credit
BOUND = "0.60"  # ringback-app's outage credit, per replica (CNY: 60 fen)


class RedisServer:
    """`redis-server` on a free port, without persistence: a restart comes back empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH: no throwaway Redis for the outage test")
    server = RedisServer()
    server.start()
    yield server
    server.kill()


def catalog() -> dict[str, Any]:
    data = priced_catalog(demo_catalog(), balance="50.00")
    data["limits"] = {
        "rules": [
            {"name": "acme", "tenant": "acme-manufacturing", "per": "tenant", "rpm": 100000, "concurrency": 50},
            {"name": "ringback", "tenant": "ringback-app", "per": "tenant", "rpm": 100000, "concurrency": 50},
        ],
        "classes": {"acme-manufacturing": "gold", "ringback-app": "bronze"},
        "outage": {"default": "fail_closed", "tenants": {"ringback-app": {"mode": "local", "outage_credit": BOUND}}},
    }
    return data


def chat(client: httpx.Client, gw: Gateway, key: str) -> httpx.Response:
    body = {"model": "tele-lite", "max_tokens": 40, "messages": [{"role": "user", "content": "hi"}]}
    return client.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_a_redis_outage_refuses_fail_closed_tenants_and_bounds_local_ones(
    redis_server: RedisServer, tmp_path: Path, pg_database: str, pg_schema: str, redis_prefix: str
) -> None:
    gw = start_gateway(catalog(), tmp_path / "home", backing=Backing(pg_database, redis_server.url, pg_schema,
                                                                     redis_prefix))  # fmt: skip
    replies: list[tuple[float, float, int, str]] = []  # (started, ended, status, key:code)
    marks: dict[str, float] = {}
    stop = threading.Event()

    def load(key: str) -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                started = time.monotonic()
                reply = chat(client, gw, key)
                code = reply.json().get("error", {}).get("code", "") if reply.status_code != 200 else ""
                replies.append((started, time.monotonic(), reply.status_code, f"{key}:{code}"))
                time.sleep(0.02)

    try:
        with ThreadPoolExecutor(4) as pool:
            workers = [pool.submit(load, key) for key in (CLOSED, LOCAL, LOCAL, CLOSED)]
            time.sleep(1.0)
            marks["kill"] = time.monotonic()
            redis_server.kill()
            marks["down"] = time.monotonic()
            time.sleep(3.0)
            marks["restart"] = time.monotonic()
            redis_server.start()
            marks["back"] = time.monotonic() + 1.5  # the store is probed again within a second
            time.sleep(3.0)
            stop.set()
            for worker in workers:
                worker.result()
        for gwkey in (CLOSED, LOCAL):
            with httpx.Client(timeout=10) as client:
                assert chat(client, gw, gwkey).status_code == 200
        gw.server.call(gw.state.sink.drain())
        verified = subprocess.run(
            [sys.executable, "-m", "tokenops", "ledger", "verify", "--database-url", pg_database],
            env=dict(os.environ, TOKENOPS_DATABASE_SCHEMA=pg_schema), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr
        accounts = {a.id: (a.balance, a.floor) for a in gw.state.charging.credit.accounts.values()}
    finally:
        gw.server.stop()

    # a request is judged by the phase it ran in from start to end; those that straddle a change are not
    up = [(s, c) for t0, t1, s, c in replies if t1 < marks["kill"]]
    down = [(s, c) for t0, t1, s, c in replies if marks["down"] < t0 and t1 < marks["restart"]]
    back = [(s, c) for t0, t1, s, c in replies if marks["back"] < t0]
    assert up and all(status == 200 for status, _ in up), up[:5]
    down_closed = [(s, c) for s, c in down if c.startswith(CLOSED)]
    down_local = [(s, c) for s, c in down if c.startswith(LOCAL)]
    assert down_closed and all(s == 503 and c.endswith("counter_store_unavailable") for s, c in down_closed)
    assert any(s == 200 for s, _ in down_local), "the local tenant was not served during the outage"
    assert any(s == 402 for s, _ in down_local), "the local tenant was not refused past its outage bound"
    assert all(s in (200, 402) for s, _ in down_local)
    assert back and all(status == 200 for status, _ in back), [r for r in back if r[0] != 200][:5]
    for tenant, (balance, floor) in accounts.items():  # never below the floor, less the declared bound
        assert balance >= floor - (60 if tenant == "ringback-app" else 0), tenant


def test_outage_policy_is_validated_with_field_named_errors() -> None:
    config = parse_limits({"outage": {"classes": {"gold": "local"}, "tenants": {"t": {"mode": "fail_closed"}}}})
    assert config.outage_for("t").mode == "fail_closed"
    assert config.outage_for("x").mode == "fail_closed"
    assert parse_limits({"classes": {"x": "gold"}, "outage": {"classes": {"gold": "local"}}}).outage_for("x").mode == (
        "local"
    )
    bad = [
        ({"outage": {"default": "open"}}, "catalog.limits.outage.default.mode"),
        ({"outage": {"tenants": {"t": {"mode": "local", "outage_credit": 1.5}}}}, "outage.tenants.t.outage_credit"),
        ({"outage": {"tenants": {"t": {"mode": "local", "outage_credit": "-1"}}}}, "outage.tenants.t.outage_credit"),
        ({"outage": {"tenants": {"t": {"outage_credit": "5"}}}}, "outage.tenants.t.outage_credit"),
        ({"outage": {"classes": {"platinum": "local"}}}, "outage.classes"),
        ({"outage": {"tenants": {"t": {"mode": "local", "budget": "5"}}}}, "outage.tenants.t.budget"),
    ]
    for doc, field in bad:
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            parse_limits(doc)

"""PostgreSQL goes away under load: the gateway keeps serving, spools usage on local disk, and replays it
exactly once when the database is back (a throwaway cluster of this test's own, so stopping it harms nothing)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.charging_support import priced_catalog
from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.verify import check_balances, check_chains
from tokenops.store.backing import Backing
from tokenops.store.postgres import PostgresStore


class Cluster:
    """A PostgreSQL cluster in a temporary folder, run as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tokenops-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres("pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w",
                          "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("initdb/pg_ctl are not on PATH: no throwaway PostgreSQL cluster for the outage test")
    if os.geteuid() != 0:
        pytest.skip("the throwaway cluster is started as the postgres user, which needs root (runuser)")
    found = Cluster()
    try:
        found.start()
        yield found
    finally:
        found.remove()


def chat(client: httpx.Client, gw: Gateway, key: str) -> tuple[int, str]:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]}
    reply = client.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    return reply.status_code, reply.headers.get("x-request-id", "")


async def stored(dsn: str) -> tuple[list[str], list[str]]:
    store = PostgresStore(dsn, pool_size=1)
    await store.open()
    try:
        ledger = ChargingPostgres(store)
        entries = await ledger.entries()
        problems = [p.check for p in check_chains(entries) + check_balances(await ledger.accounts(), entries)]
        return [r.request_id for r in await store.usage_records()], problems
    finally:
        await store.close()


def test_requests_keep_being_served_while_postgres_is_down_and_each_has_one_usage_record_after(
    cluster: Cluster, tmp_path: Path
) -> None:
    catalog = priced_catalog(demo_catalog(), "5000.00")  # without the demo's rate limits: this test loads one key
    gw = start_gateway(catalog, tmp_path / "home", backing=Backing(cluster.dsn))
    served: list[tuple[int, str, str]] = []
    phase = ["up"]
    stop = threading.Event()

    def load(key: str) -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                status, request_id = chat(client, gw, key)
                served.append((status, request_id, phase[0]))

    try:
        with ThreadPoolExecutor(8) as pool:  # an enterprise on its package and a prepaid consumer app
            workers = [pool.submit(load, key) for key in ["sk-demo-acme", "sk-demo-consumer"] * 4]
            time.sleep(1.5)
            cluster.stop("immediate")  # as if it crashed: no checkpoint, connections dropped, recovery on start
            phase[0] = "down"
            time.sleep(3.0)
            spooled = gw.state.sink._spool.spooled if gw.state.sink._spool else 0
            phase[0] = "back"
            cluster.start()
            time.sleep(1.5)
            stop.set()
            for worker in workers:
                worker.result()
        deadline = time.monotonic() + 20
        spool = gw.state.sink._spool
        assert spool is not None
        while spool.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        assert spool.pending == 0, "the spool did not drain after the database came back"
        gw.server.call(gw.state.sink.drain())
    finally:
        gw.server.stop()

    assert spooled > 0, "no usage was spooled while the database was down"
    down = [s for s in served if s[2] == "down"]
    assert down and all(status == 200 for status, _, _ in down), "requests failed while the database was down"
    assert all(status == 200 for status, _, _ in served)
    ids = [request_id for _, request_id, _ in served]
    assert len(set(ids)) == len(ids)
    records, problems = asyncio.run(stored(cluster.dsn))
    assert sorted(records) == sorted(ids)  # every served request exactly once, nothing else
    assert problems == []
    assert not list((tmp_path / "home" / "spool").glob("*.spool"))
    verified = subprocess.run([sys.executable, "-m", "tokenops", "ledger", "verify", "--database-url", cluster.dsn],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr

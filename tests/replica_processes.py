"""Gateway replicas as processes of their own (`tokenops serve`), sharing the test's PostgreSQL schema and
Redis prefix, for the tests that need several replicas or kill one."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.scaleout_support import REDIS_URL
from tests.test_process import serve_process
from tokenops.charging.ledger import Entry
from tokenops.charging.postgres import ChargingPostgres
from tokenops.store.postgres import PostgresStore


class Replica:
    """`tokenops serve` as a process of its own, on the test's PostgreSQL schema and Redis prefix."""

    def __init__(self, home: Path, config: Path, env: dict[str, str], dsn: str) -> None:
        args = ["--config", str(config), "--home", str(home), "--database-url", dsn, "--redis-url", REDIS_URL]
        self.proc, self.port = serve_process(args, env)
        self.url = f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: the replica dies at once, with whatever it holds open."""
        self.proc.kill()
        self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def replica_env(pg_schema: str, redis_prefix: str) -> dict[str, str]:
    return dict(os.environ, TOKENOPS_DATABASE_SCHEMA=pg_schema, TOKENOPS_REDIS_PREFIX=redis_prefix,
                TOKENOPS_ADMIN_TOKEN="adm-demo-operator", TOKENOPS_SHUTDOWN_GRACE_S="10")  # fmt: skip


def two_replicas(
    tmp_path: Path, catalog: dict[str, Any], env: dict[str, str], database: str
) -> Iterator[list[Replica]]:
    """Two replica processes serving `catalog` from one store; stopped afterwards (a fixture's body)."""
    config = tmp_path / "catalog.yaml"
    config.write_text(yaml.safe_dump(catalog))
    started: list[Replica] = []
    try:
        for _ in range(2):  # one after the other: the first seeds the store; both share the key secret
            started.append(Replica(tmp_path / "home", config, env, database))
        yield started
    finally:
        for replica in started:
            replica.stop()


async def tenant_ledger(dsn: str, schema: str, tenant: str) -> tuple[int, list[Entry], int]:
    """The tenant's balance, its entries, and how many usage records it has."""
    store = PostgresStore(dsn, schema)
    await store.open()
    try:
        ledger = ChargingPostgres(store)
        accounts = await ledger.accounts()
        records = [r for r in await store.usage_records() if r.tenant_id == tenant]
        return accounts[tenant].balance, await ledger.entries(tenant), len(records)
    finally:
        await store.close()

"""Reservations across replicas: each is on record with its owner, kept current as a stream is granted more,
left alone while its owner beats a heart, and taken over by a live replica once its owner has died."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx2 as httpx
import yaml

from tests.charging_support import priced_catalog
from tests.conftest import demo_catalog
from tests.replica_processes import Replica
from tests.replica_processes import replica_env as replica_env  # a fixture
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.store import HoldRow
from tokenops.store.postgres import PostgresStore

KEY = "sk-demo-consumer"


async def _claims(dsn: str, schema: str) -> None:
    stores = [PostgresStore(dsn, schema, pool_size=2) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        a, b, c = (ChargingPostgres(store) for store in stores)
        for ledger in (a, b, c):
            await ledger.heartbeat()
        now = int(time.time() * 1000)
        await a.settle([], [], [HoldRow(f"r{i}", "acct", 10, now + 60_000, now) for i in range(40)], [])
        assert {h.owner for h in await a.open_holds()} == {a.writer}
        assert await b.claim_orphans(30_000) == [], "a replica that beats keeps its reservations"
        await stores[0].pool.execute("UPDATE replicas SET seen_ms = seen_ms - 60000 WHERE writer = $1", a.writer)
        got_b, got_c = await asyncio.gather(b.claim_orphans(30_000), c.claim_orphans(30_000))
        ids_b, ids_c = {h.request_id for h in got_b}, {h.request_id for h in got_c}
        assert ids_b | ids_c == {f"r{i}" for i in range(40)} and not ids_b & ids_c, "each taken over exactly once"
        assert {h.owner for h in got_b} <= {b.writer} and {h.owner for h in got_c} <= {c.writer}
        assert await c.claim_orphans(30_000) == []
        await b.retire()  # a replica that stops hands over at once, whatever its heartbeat says
        assert {h.request_id for h in await c.claim_orphans(30_000)} == ids_b
    finally:
        for store in stores:
            await store.close()


def test_a_silent_replicas_reservations_are_taken_over_once_each(pg_database: str, pg_schema: str) -> None:
    asyncio.run(_claims(pg_database, pg_schema))


async def _reservations(dsn: str, schema: str) -> list[tuple[str, int, str]]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch("SELECT request_id, amount_units, owner FROM reservations ORDER BY request_id")
        return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await conn.close()


def _stream(url: str, outcomes: list[str]) -> None:
    """One stream with no output cap (granted slice by slice); how it ended."""
    body = {"model": "tele-lite", "stream": True, "messages": [{"role": "user", "content": "long status report"}]}
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {KEY}"}) as reply:  # fmt: skip
            for _ in reply.iter_bytes():
                pass
            outcomes.append(str(reply.status_code))
    except httpx.TransportError:
        outcomes.append("cut")


def test_a_killed_replicas_reservations_are_closed_by_a_live_one_and_the_ledger_verifies(
    tmp_path: Path, pg_database: str, pg_schema: str, replica_env: dict[str, str]
) -> None:
    env = dict(replica_env, TOKENOPS_REPLICA_STALE_S="3")
    config = tmp_path / "catalog.yaml"  # streams of 1600 tokens at 80 tokens/s (a 128-token slice in 1.6 s): 20 s
    config.write_text(yaml.safe_dump(priced_catalog(demo_catalog(), "50.00", ttft_ms=20, tokens_per_s=80,
                                                    reply_tokens=1600)))  # fmt: skip
    survivor = Replica(tmp_path / "home", config, env, pg_database)
    doomed = Replica(tmp_path / "home", config, env, pg_database)
    late: Replica | None = None
    outcomes: dict[str, list[str]] = {"survivor": [], "doomed": []}
    threads = [
        threading.Thread(target=_stream, args=(replica.url, outcomes[name]))
        for name, replica in (("doomed", doomed), ("survivor", survivor))
        for _ in range(4)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10  # each on record after a second
        while len(first := asyncio.run(_reservations(pg_database, pg_schema))) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3.0)  # written again as each stream is granted more
        later = asyncio.run(_reservations(pg_database, pg_schema))
        assert len(first) == 8 and len({owner for _, _, owner in first}) == 2, first
        grown = {r for r, amount, _ in later} == {r for r, _, _ in first} and all(
            amount > dict((r, a) for r, a, _ in first)[r] for r, amount, _ in later
        )
        assert grown, f"a sliced stream's reservation on record did not follow its grants: {first} then {later}"
        late = Replica(tmp_path / "home", config, env, pg_database)
        after = asyncio.run(_reservations(pg_database, pg_schema))
        assert {(r, o) for r, _, o in after} == {(r, o) for r, _, o in later}, "a starting replica took live holds"
        doomed.kill()
        deadline = time.monotonic() + 20  # stale after 3 s, looked for every 2 s
        while time.monotonic() < deadline and asyncio.run(_reservations(pg_database, pg_schema)):
            time.sleep(0.25)
        left = asyncio.run(_reservations(pg_database, pg_schema))
        for thread in threads:
            thread.join(40)
        verify = subprocess.run(
            [sys.executable, "-m", "tokenops", "ledger", "verify", "--url", survivor.url],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        for replica in (survivor, doomed, late):
            if replica is not None:
                replica.stop()
    assert left == [], f"reservations of the killed replica still open: {left}"
    assert outcomes["doomed"] == ["cut"] * 4 and outcomes["survivor"] == ["200"] * 4, outcomes
    assert verify.returncode == 0, verify.stdout + verify.stderr

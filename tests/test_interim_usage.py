"""Interim usage: a long stream keeps its usage so far in its reservation on record, so SIGKILL of the process
serving it loses at most one interim interval of billing per cut stream. Scaled out, a live replica takes the
dead one's reservations over within seconds and charges them; embedded, the next start does.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx2 as httpx
import orjson
import yaml

from tests.charging_support import priced_catalog
from tests.conftest import demo_catalog
from tests.replica_processes import Replica
from tests.replica_processes import replica_env as replica_env  # a fixture
from tests.test_process import Process
from tokenops.charging.ledger import Entry
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.store import SQLiteStore, UsageRecord
from tokenops.store.postgres import PostgresStore
from tokenops.tokenize import counter_for

KEY = "sk-demo-consumer"
INTERVAL_S = 1.0
# what may pass between a report and its commit, and the upkeep's own drift: a margin on the interval
MARGIN_S = 0.25
COUNT = counter_for("cl100k")  # tele-lite's tokenizer, as the gateway counts what it streamed


@dataclass
class Cut:
    """What one client received of a stream, with when each piece arrived."""

    request_id: str = ""
    pieces: list[tuple[float, str]] = field(default_factory=list)
    ended: str = ""

    def tokens(self, until: float | None = None) -> int:
        return COUNT.count("".join(t for at, t in self.pieces if until is None or at <= until))


def _stream(url: str, cut: Cut) -> None:
    body = {"model": "tele-lite", "stream": True, "messages": [{"role": "user", "content": "long shift report"}]}
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {KEY}"}) as reply:  # fmt: skip
            cut.request_id = reply.headers.get("x-request-id", "")
            for line in reply.iter_lines():
                if not line.startswith("data: {"):
                    continue
                for choice in orjson.loads(line[6:]).get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        cut.pieces.append((time.monotonic(), text))
            cut.ended = str(reply.status_code)
    except httpx.TransportError:
        cut.ended = "cut"


def _catalog(tmp_path: Path) -> Path:
    config = tmp_path / "catalog.yaml"  # 1600-token streams at 80 tokens a second: 20 s each
    config.write_text(yaml.safe_dump(priced_catalog(demo_catalog(), "50.00", ttft_ms=20, tokens_per_s=80,
                                                    reply_tokens=1600)))  # fmt: skip
    return config


def _start(url: str, n: int) -> tuple[list[Cut], list[threading.Thread]]:
    cuts = [Cut() for _ in range(n)]
    threads = [threading.Thread(target=_stream, args=(url, c)) for c in cuts]
    for t in threads:
        t.start()
    return cuts, threads


def _check(cuts: list[Cut], killed_at: float, records: dict[str, UsageRecord], charges: dict[str, Entry]) -> None:
    """Per cut stream: tokens delivered less tokens charged is at most what one interval (and the margin) carried."""
    for c in cuts:
        assert c.ended == "cut" and c.request_id, c
        delivered = c.tokens()
        in_last_interval = delivered - c.tokens(killed_at - INTERVAL_S - MARGIN_S)
        record, charge = records[c.request_id], charges[c.request_id]
        billed = charge.meta["tokens"][3]
        print(f"{c.request_id}: {delivered} output tokens delivered, {billed} billed, {delivered - billed} unbilled "
              f"(the last {INTERVAL_S + MARGIN_S:.2f} s carried {in_last_interval})")  # fmt: skip
        assert record.outcome == "interrupted" and record.usage_source == "interim"
        assert record.output_tokens == billed and charge.amount < 0
        assert delivered > 2 * in_last_interval, "the stream ran several intervals before the kill"
        assert delivered - billed <= in_last_interval, "more than one interval of delivered tokens went unbilled"
        assert billed <= delivered + 8, "billed beyond what was delivered (a chunk or two in flight at most)"


async def _pg_books(dsn: str, schema: str) -> tuple[dict[str, UsageRecord], dict[str, Entry], int]:
    store = PostgresStore(dsn, schema, pool_size=2)
    await store.open()
    try:
        records = {r.request_id: r for r in await store.usage_records()}
        charges = {e.request_id: e for e in await ChargingPostgres(store).entries() if e.kind == "charge"}
        open_holds = len(await ChargingPostgres(store).open_holds())
        return records, charges, open_holds
    finally:
        await store.close()


async def _open_holds(dsn: str, schema: str) -> int:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        return int(await conn.fetchval("SELECT count(*) FROM reservations"))
    finally:
        await conn.close()


def test_sigkill_of_a_replica_mid_stream_leaves_at_most_one_interval_unbilled_and_is_taken_over_fast(
    tmp_path: Path, pg_database: str, pg_schema: str, replica_env: dict[str, str]
) -> None:
    env = dict(replica_env, TOKENOPS_REPLICA_STALE_S="3", TOKENOPS_INTERIM_USAGE_S=str(INTERVAL_S))
    config = _catalog(tmp_path)
    survivor = Replica(tmp_path / "home", config, env, pg_database)
    doomed = Replica(tmp_path / "home", config, env, pg_database)
    try:
        cuts, threads = _start(doomed.url, 4)
        time.sleep(5.5)  # on record after a second, then reported at every interval
        assert asyncio.run(_open_holds(pg_database, pg_schema)) == 4
        killed_at = time.monotonic()
        doomed.kill()
        for t in threads:
            t.join(10)
        while asyncio.run(_open_holds(pg_database, pg_schema)) and time.monotonic() - killed_at < 30:
            time.sleep(0.1)
        takeover_s = time.monotonic() - killed_at
        served = httpx.post(
            survivor.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        verify = subprocess.run([sys.executable, "-m", "tokenops", "ledger", "verify", "--url", survivor.url],
                                env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        reconcile = subprocess.run([sys.executable, "-m", "tokenops", "reconcile", "--url", survivor.url],
                                   env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        survivor.stop()
        doomed.stop()
    print(f"the survivor took the killed replica's reservations over {takeover_s:.1f} s after the kill")
    assert takeover_s < 3 + 2 + 2, "stale after 3 s, looked for every 2 s"
    assert served.status_code == 200
    records, charges, left = asyncio.run(_pg_books(pg_database, pg_schema))
    assert left == 0
    _check(cuts, killed_at, records, charges)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr


async def _sqlite_books(home: Path) -> tuple[dict[str, UsageRecord], dict[str, Entry]]:
    store = SQLiteStore(home / "tokenops.db")
    await store.open()
    try:
        records = {r.request_id: r for r in await store.usage_records()}
        charges = {e.request_id: e for e in await ChargingSQLite(store).entries() if e.kind == "charge"}
        return records, charges
    finally:
        await store.close()


def test_sigkill_of_the_embedded_gateway_mid_stream_is_charged_by_the_next_start(tmp_path: Path) -> None:
    catalog = yaml.safe_load(_catalog(tmp_path).read_text())
    env = {"TOKENOPS_INTERIM_USAGE_S": str(INTERVAL_S)}
    first = Process(tmp_path, catalog, env)
    cuts, threads = _start(first.url, 3)
    time.sleep(4.5)
    killed_at = time.monotonic()
    first.proc.kill()
    first.proc.wait(10)
    for t in threads:
        t.join(10)
    restarted = Process(tmp_path, catalog, env)  # recovery at start charges what each stream last reported
    restarted.proc.terminate()
    restarted.proc.wait(30)
    records, charges = asyncio.run(_sqlite_books(tmp_path / "home"))
    _check(cuts, killed_at, records, charges)

"""Usage export to NATS JetStream through the store's outbox: every usage record and every ledger entry is
one CloudEvent, once, on SQLite and PostgreSQL, also when the relay dies between publishing and recording
it (read back from the stream) and when several relays compete (one lease)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tests.export_support import NATS_URL, stream_keys_async
from tests.scaleout_support import Backend
from tokenops.charging.ledger import Entry
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.store import ChargingStore
from tokenops.cli.main import main
from tokenops.export import ExportRelay, NatsSink, outbox_for, read_events
from tokenops.export.relay import events_of
from tokenops.store import SQLiteStore, UsageRecord
from tokenops.store.postgres import PostgresStore


def _record(i: int, now: int) -> UsageRecord:
    return UsageRecord(f"req_{i:05d}", now - 10_000 + i, "ringback-app", "ringback-default", "chat.completions",
                       "tele-lite", 200, "ok", end_user=f"u{i}", input_tokens=10 + i, output_tokens=20)  # fmt: skip


def _charge(i: int, now: int) -> Entry:
    return Entry("ringback-app", "charge", -(30 + i), f"charge:req_{i:05d}", now + i, f"req_{i:05d}")


def _relay(store: object, name: str, lease_ms: int = 10_000, window_s: float = 600.0) -> ExportRelay:
    sink = NatsSink(NATS_URL, name, "test." + name.lower(), window_s)
    return ExportRelay(outbox_for(store), sink, f"nats:{name}", "test." + name.lower(),
                       lambda: int(time.time() * 1000), batch=40, lease_ms=lease_ms)  # fmt: skip


async def _drain(relay: ExportRelay) -> None:
    while await relay.cycle():
        pass


async def _expected(backend: Backend, store: object) -> set[tuple[str, str]]:
    ledger = backend.ledger(store)  # type: ignore[arg-type]
    usage = {("usage", r.request_id) for r in await store.usage_records()}  # type: ignore[attr-defined]
    return usage | {("ledger", str(e.seq)) for e in await ledger.entries()}


@pytest.fixture
async def opened(backend: Backend) -> AsyncIterator[tuple[SQLiteStore | PostgresStore, ChargingStore]]:
    """The backend's store and ledger, open; a PostgreSQL schema is dropped after."""
    store = backend.store()
    await store.open()
    ledger = backend.ledger(store)
    await ledger.open()
    yield store, ledger
    if isinstance(store, PostgresStore):
        await store.pool.execute(f'DROP SCHEMA "{backend.schema}" CASCADE')
    await store.close()


async def test_every_record_and_entry_is_published_once_as_a_cloudevent_even_after_a_crash_mid_batch(
    backend: Backend, opened: tuple[SQLiteStore | PostgresStore, ChargingStore], export_stream: str
) -> None:
    store, ledger = opened
    now = int(time.time() * 1000)
    await ledger.append([Entry("ringback-app", "topup", 5_000_000, "op:ringback-app:t1", now)])
    for start in range(0, 100, 25):  # settled as the gateway settles: records and charges in one commit
        batch = range(start, start + 25)
        await ledger.settle([_record(i, now) for i in batch], [_charge(i, now) for i in batch], [], [])
    first = _relay(store, export_stream, lease_ms=200, window_s=0.2)
    assert await first.cycle() and first.published == 40
    # the next batch reaches the stream, then the relay dies before recording it as published
    items = await first.outbox.batch(40, 40)
    await first.sink.publish(events_of(items, first.prefix, set()))
    await first.sink.close()
    time.sleep(0.5)  # past the lease and past the stream's de-duplication window: only the read-back helps
    second = _relay(store, export_stream, lease_ms=200)
    await _drain(second)
    assert second.published == 201 - 80  # what the first did not publish, less what it sent before dying
    await second.sink.close()
    found = await stream_keys_async(NATS_URL, export_stream)
    assert len(found) == len(set(found)) == 201  # one top-up, 100 records and 100 charges; no duplicate
    assert set(found) == await _expected(backend, store)
    [(_, first_event)] = [e for e in await read_events(NATS_URL, export_stream, 1, 1)]
    event = orjson.loads(first_event)
    assert event["specversion"] == "1.0" and event["type"] == "io.tokenops.ledger.entry.v1"
    assert event["data"]["amount_units"] == 5_000_000 and event["data"]["amount"] == "5.000000"
    status = await outbox_for(store).status()
    assert status[0].position == status[0].head and status[0].lag == 0 and status[0].published == 161


async def test_only_the_replica_holding_the_lease_publishes(
    opened: tuple[SQLiteStore | PostgresStore, ChargingStore], export_stream: str
) -> None:
    store, ledger = opened
    now = int(time.time() * 1000)
    await ledger.settle([_record(i, now) for i in range(30)], [], [], [])
    a, b = _relay(store, export_stream), _relay(store, export_stream)
    assert await a.cycle()
    assert not await b.cycle() and not b.leader  # a holds the lease
    await ledger.settle([_record(i, now) for i in range(30, 60)], [], [], [])
    await _drain(a)
    await a.sink.close()
    found = await stream_keys_async(NATS_URL, export_stream)
    assert len(found) == len(set(found)) == 60


def test_export_status_shows_the_lag_and_read_replays_from_any_position(
    tmp_path: Path, export_stream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def setup() -> None:
        store = SQLiteStore(tmp_path / "tokenops.db")
        await store.open()
        ledger = ChargingSQLite(store)
        await ledger.open()
        now = int(time.time() * 1000)
        await ledger.settle([_record(i, now) for i in range(50)], [], [], [])
        relay = _relay(store, export_stream)
        assert await relay.cycle()  # 40 of 50
        await relay.sink.close()
        await store.close()

    asyncio.run(setup())
    assert main(["export", "status", "--home", str(tmp_path), "--json"]) == 0
    [sink] = orjson.loads(capsys.readouterr().out)["sinks"]
    found = (sink["sink"], sink["position"], sink["head"], sink["lag_events"])
    assert found == (f"nats:{export_stream}", 40, 50, 10)
    assert sink["lag_seconds"] > 0
    assert main(["export", "read", "--nats-url", NATS_URL, "--stream", export_stream, "--from-seq", "39"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["stream_seq"] for line in lines] == [39, 40]
    assert [line["event"]["id"] for line in lines] == ["req_00038", "req_00039"]


def test_the_relay_runs_as_a_process_of_its_own_and_stops_on_sigterm(tmp_path: Path, export_stream: str) -> None:
    async def settle() -> None:
        store = SQLiteStore(tmp_path / "tokenops.db")
        await store.open()
        ledger = ChargingSQLite(store)
        await ledger.open()
        now = int(time.time() * 1000)
        await ledger.settle([_record(i, now) for i in range(30)], [_charge(i, now) for i in range(30)], [], [])
        await store.close()

    asyncio.run(settle())
    env = dict(os.environ, TOKENOPS_EXPORT_NATS_URL=NATS_URL, TOKENOPS_EXPORT_STREAM=export_stream,
               TOKENOPS_EXPORT_SUBJECT="test." + export_stream.lower())  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "tokenops", "export", "run", "--home", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(asyncio.run(stream_keys_async(NATS_URL, export_stream))) < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = (b.decode() for b in proc.communicate(timeout=20))
    assert proc.returncode == 0 and "stopped after 60 events" in out, err[-2000:]

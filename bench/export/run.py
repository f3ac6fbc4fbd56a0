"""Export throughput against the ledger's settle rate, in the same run.

For PostgreSQL and for the embedded SQLite file: settle N requests (a usage record and its charge,
in group-commit batches, as bench/scaleout/run.py does) once with the outbox triggers switched off
and once with them on (the outbox's cost), then publish the outbox to NATS JetStream (a stream of
the run's own, deleted after) and time it until every event is acknowledged.

    .venv/bin/python bench/export/run.py --requests 20000 --batch 500
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import nats
import uvloop

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.scaleout.run import _batch  # noqa: E402
from tests.conftest import demo_catalog  # noqa: E402

from tokenops.catalog import parse_catalog  # noqa: E402
from tokenops.charging.catalog import parse_charging  # noqa: E402
from tokenops.charging.postgres import ChargingPostgres  # noqa: E402
from tokenops.charging.sqlite import ChargingSQLite  # noqa: E402
from tokenops.charging.store import ChargingStore  # noqa: E402
from tokenops.export import ExportRelay, NatsSink, outbox_for  # noqa: E402
from tokenops.store import SQLiteStore, Store  # noqa: E402
from tokenops.store.postgres import PostgresStore  # noqa: E402


def ledger_for(store: Store) -> ChargingStore:
    return ChargingSQLite(store) if isinstance(store, SQLiteStore) else ChargingPostgres(store)  # type: ignore[arg-type]


TRIGGERS = (("usage_records_outbox", "usage_records"), ("ledger_entries_outbox", "ledger_entries"))


async def _triggers(store: Store, on: bool) -> None:
    if isinstance(store, PostgresStore):
        for trigger, table in TRIGGERS:
            await store.pool.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {trigger}")
    elif not on:  # SQLite cannot switch a trigger off: drop them, the store creates them again on open
        assert isinstance(store, SQLiteStore)
        await store.run(lambda db: [db.execute(f"DROP TRIGGER {t}") for t, _ in TRIGGERS])


async def _settle(store: Store, requests: int, batch: int, start: int) -> float:
    ledger = ledger_for(store)
    batches = [_batch(batch, i) for i in range(start, start + requests, batch)]
    began = time.perf_counter()
    for records, charges in batches:
        await ledger.settle(records, charges, [], [])
    return requests / (time.perf_counter() - began)


async def _measure(make: object, nats_url: str, requests: int, batch: int, publish_batch: int) -> dict[str, float]:
    store: Store = make()  # type: ignore[operator]
    await store.open()
    ledger = ledger_for(store)
    await ledger.open()
    await ledger.seed(parse_charging(parse_catalog(demo_catalog())), int(time.time() * 1000))
    await _triggers(store, on=False)
    without = await _settle(store, requests, batch, 0)
    if isinstance(store, SQLiteStore):  # reopen: the triggers are made again
        await store.close()
        store = make()  # type: ignore[operator]
        await store.open()
        await ledger_for(store).open()
    await _triggers(store, on=True)
    with_outbox = await _settle(store, requests, batch, requests)
    stream = "BENCH_" + secrets.token_hex(4).upper()
    sink = NatsSink(nats_url, stream, "bench." + stream.lower())
    relay = ExportRelay(outbox_for(store), sink, f"nats:{stream}", "bench." + stream.lower(),
                        lambda: int(time.time() * 1000), batch=publish_batch)  # fmt: skip
    began = time.perf_counter()
    while await relay.cycle():
        pass
    elapsed = time.perf_counter() - began
    events = relay.published
    await sink.close()
    nc = await nats.connect(nats_url)
    info = await nc.jetstream().stream_info(stream)
    stored = info.state.messages
    await nc.jetstream().delete_stream(stream)
    await nc.close()
    await store.close()
    return {"settle_without": without, "settle_with": with_outbox, "events": events, "stored": stored,
            "events_s": events / elapsed, "requests_s": requests / elapsed}  # fmt: skip


async def main(args: argparse.Namespace) -> str:
    name = "tokenops_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = args.pg.rsplit("/", 1)[0] + "/" + name
    rows = []
    try:
        pg = await _measure(lambda: PostgresStore(dsn), args.nats, args.requests, args.batch, args.publish_batch)
        rows.append(("PostgreSQL", pg))
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.db"
        lite = await _measure(lambda: SQLiteStore(path), args.nats, args.requests, args.batch, args.publish_batch)
        rows.append(("SQLite WAL", lite))
    lines = [
        f"# Usage export throughput, {dt.date.today().isoformat()}",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/export/run.py', *sys.argv[1:]])}`",
        "",
        f"{args.requests} requests (a usage record and its charge each, so two events per request) settled in "
        f"batches of {args.batch}, then the outbox published to NATS JetStream {args.nats} in batches of "
        f"{args.publish_batch}, every event acknowledged before the position moves. The settle rate is measured "
        "in the same run, with the outbox triggers off and on. 2 cores shared by the database, NATS and this "
        "process (and whatever else the machine runs); uvloop, as `tokenops serve` runs.",
        "",
        "| store | settle req/s, no outbox | settle req/s, with outbox | export events/s | export req/s | "
        "export ÷ settle | events in the stream |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r['settle_without']:,.0f} | {r['settle_with']:,.0f} | {r['events_s']:,.0f} | "
            f"{r['requests_s']:,.0f} | {r['requests_s'] / r['settle_with']:.2f} | {r['stored']:,.0f} of "
            f"{r['events']:,.0f} |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"Load average at the end of the run (1, 5, 15 min): {load} on {os.cpu_count()} cores: other "
              "work shared the machine, so compare the ratios within the run, not the rates across runs."]  # fmt: skip
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--publish-batch", type=int, default=500)
    parser.add_argument("--out", default="")
    ns = parser.parse_args()
    uvloop.install()  # as `tokenops serve` runs, relay included
    report = asyncio.run(main(ns))
    print(report)
    if ns.out:
        Path(ns.out).write_text(report)

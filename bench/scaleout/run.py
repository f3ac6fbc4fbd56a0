"""Settlement throughput: usage records with their charges written in group-commit batches.

PostgreSQL (the scaled-out ledger) and SQLite (the embedded one) take the same batches
through the same `settle` call the gateway's usage sink makes. Writes a markdown report.

    .venv/bin/python bench/scaleout/run.py --requests 40000 --batch 500
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import demo_catalog  # noqa: E402

from tokenops.catalog import parse_catalog  # noqa: E402
from tokenops.charging.catalog import parse_charging  # noqa: E402
from tokenops.charging.ledger import Entry, charge_key  # noqa: E402
from tokenops.charging.postgres import ChargingPostgres  # noqa: E402
from tokenops.charging.sqlite import ChargingSQLite  # noqa: E402
from tokenops.charging.store import ChargingStore  # noqa: E402
from tokenops.charging.verify import check_balances, check_chains  # noqa: E402
from tokenops.store import SQLiteStore, Store, UsageRecord  # noqa: E402
from tokenops.store.postgres import PostgresStore  # noqa: E402

ACCOUNTS = ["acme-manufacturing", "ringback-app", "cn-gov-energy"]


def _batch(n: int, start: int) -> tuple[list[UsageRecord], list[Entry]]:
    now = int(time.time() * 1000)
    records, charges = [], []
    for i in range(start, start + n):
        rid = f"req_{i:09d}"
        tenant = ACCOUNTS[i % len(ACCOUNTS)]
        record = UsageRecord(rid, now, tenant, "k", "chat.completions", "tele-lite", 200, "ok")
        record.model_served, record.input_tokens, record.output_tokens = "tele-lite", 120, 40
        records.append(record)
        meta = {"tenant": tenant, "key_id": "k", "tokens": [120, 0, 0, 40], "model": "tele-lite"}
        charges.append(Entry(tenant, "charge", -1, charge_key(rid), now, rid, meta))
    return records, charges


async def _measure(store: Store, ledger: ChargingStore, requests: int, batch: int) -> tuple[float, int]:
    await store.open()
    try:
        await ledger.open()
        await ledger.seed(parse_charging(parse_catalog(demo_catalog())), int(time.time() * 1000))
        batches = [_batch(batch, i) for i in range(0, requests, batch)]
        started = time.perf_counter()
        for records, charges in batches:
            await ledger.settle(records, charges, [], [])
        elapsed = time.perf_counter() - started
        entries = await ledger.entries()
        problems = len(check_chains(entries)) + len(check_balances(await ledger.accounts(), entries))
        return requests / elapsed, problems
    finally:
        await store.close()


async def main(args: argparse.Namespace) -> str:
    name = "tokenops_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        pg = PostgresStore(args.pg.rsplit("/", 1)[0] + "/" + name)
        pg_rate, pg_problems = await _measure(
            pg, ChargingPostgres(pg), args.requests, args.batch
        )
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()
    with tempfile.TemporaryDirectory() as tmp:
        lite = SQLiteStore(Path(tmp) / "t.db")
        lite_rate, lite_problems = await _measure(lite, ChargingSQLite(lite), args.requests, args.batch)
    return "\n".join([
        f"# Settlement throughput, {dt.date.today().isoformat()}",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/scaleout/run.py', *sys.argv[1:]])}`",
        "",
        f"{args.requests} requests, each a usage record and its charge (hash-chained, idempotent), settled in "
        f"batches of {args.batch} (one transaction each: the gateway's group commit).",
        "",
        "| ledger | settled requests/s | ledger verify problems |",
        "|---|---:|---:|",
        f"| PostgreSQL 15 (asyncpg, unnest multi-row inserts) | {pg_rate:,.0f} | {pg_problems} |",
        f"| SQLite WAL (embedded) | {lite_rate:,.0f} | {lite_problems} |",
        "",
    ])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--out", default="")
    ns = parser.parse_args()
    report = asyncio.run(main(ns))
    print(report)
    if ns.out:
        Path(ns.out).write_text(report)

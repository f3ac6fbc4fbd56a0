"""Settled requests per second and settle latency of the ledger on SQLite with group commit.

    .venv/bin/python bench/ledger/run.py [--records 100000] [--concurrency 512] [--accounts 100]

Runs the gateway's own settle path without HTTP: for each request, reserve on the
credit controller, put the reservation on record, settle the usage, and await the one
transaction that makes the usage record and its hash-chained charge durable. Writes
bench/results/ledger-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tokenops.catalog import parse_catalog
from tokenops.charging.catalog import parse_charging
from tokenops.charging.prices import Tokens
from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.gateway.settle import UsageSink
from tokenops.store import SQLiteStore, UsageRecord

ROOT = Path(__file__).resolve().parents[2]


def catalog(accounts: int) -> dict[str, object]:
    tenants = [{"id": f"t{i}", "kind": "enterprise", "residency": ["r"], "models": ["m"]} for i in range(accounts)]
    return {
        "models": [{"name": "m", "context_window": 100000}],
        "tenants": tenants,
        "prices": {
            "versions": [{"id": "v1", "effective": "2026-01-01", "models": {"m": {"input": "3", "output": "9"}}}]
        },
        "accounts": [{"tenant": f"t{i}", "type": "prepaid", "balance": "1000000.00"} for i in range(accounts)],
    }


async def bench(records: int, concurrency: int, accounts: int, home: Path, hold_delay_ms: int) -> dict[str, float]:
    store = SQLiteStore(home / "tokenops.db")
    await store.open()
    spec = parse_catalog(catalog(accounts))
    await store.seed(spec, lambda k: k)
    ledger = ChargingSQLite(store)
    service = ChargingService(ledger)
    await service.start(parse_charging(spec))
    sink = UsageSink(store, ledger, hold_delay_ms=hold_delay_ms)
    credit = service.credit
    latencies: list[float] = []
    counter = iter(range(records))

    async def worker() -> None:
        for n in counter:
            now = int(time.time() * 1000)
            tenant = f"t{n % accounts}"
            record = UsageRecord(f"req-{n}", now, tenant, "k", "chat.completions", "m", 200, "ok", model_served="m",
                                 input_tokens=1200 + n % 500, output_tokens=300 + n % 200)  # fmt: skip
            hold = credit.reserve(record.request_id, tenant, "general", "k", None, "m", 4000, 1000, now)
            assert hold is not None
            sink.hold(hold)
            await asyncio.sleep(0)  # the request is served meanwhile
            started = time.perf_counter()
            entry = credit.settle(hold, Tokens.of_usage(record.input_tokens, 0, 0, record.output_tokens), now)
            await sink.record(record, entry, hold.request_id)
            latencies.append(time.perf_counter() - started)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await sink.drain()
    elapsed = time.perf_counter() - t0
    problems = len(await ledger.entries()) - accounts - records
    await store.close()
    latencies.sort()
    return {
        "records": records,
        "seconds": elapsed,
        "per_s": records / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
        "missing_entries": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for sync, delay in (("normal", 1000), ("full", 1000), ("normal", 0)):
        os.environ["TOKENOPS_SQLITE_SYNC"] = sync
        cpu = time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(bench(args.records, args.concurrency, args.accounts, Path(tmp), delay))
        result["cpu_us"] = (time.process_time() - cpu) / args.records * 1e6
        rows.append((f"{sync}, reservations {'always written' if delay == 0 else 'written after 1 s'}", result))
        print(rows[-1][0], {k: round(v, 3) for k, v in result.items()}, flush=True)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    out = args.out or ROOT / "bench" / "results" / f"ledger-{day}.md"
    lines = [
        f"# Ledger settle benchmark ({day})",
        "",
        "Command: `.venv/bin/python bench/ledger/run.py "
        f"--records {args.records} --concurrency {args.concurrency} --accounts {args.accounts}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite WAL, "
        "one store thread; each settled request = one usage record + one hash-chained charge entry "
        "(+ balance update), made durable by group commit before the request would send its last byte. "
        f"Load average before the run: {load:.2f} (the 2 cores are shared; a busy machine gives less).",
        "",
        "Settle latency = from the in-memory debit to the request's commit being durable (what a request waits "
        "before its last byte). CPU µs/settle counts both threads (event loop + store thread).",
        "",
        "| synchronous, reservations | settled | seconds | settled/s | p50 settle ms | p99 settle ms | max ms "
        "| CPU µs/settle | missing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sync, r in rows:
        lines.append(
            f"| {sync} | {r['records']:,.0f} | {r['seconds']:.2f} | {r['per_s']:,.0f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['cpu_us']:.0f} | {r['missing_entries']:.0f} |"
        )
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

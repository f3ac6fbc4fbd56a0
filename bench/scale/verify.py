"""Ledger verification and reconciliation at operator scale: a month of usage written straight into the store
(records with their charges, rated and chained as the gateway does), then a full `ledger verify`, an
incremental one of the month's last day, the month's reconcile (tenant by tenant, and one admin page) and the
month-end invoice run of the current period (`tokenops invoice --all`, checked against the period's charges).

Called by `bench/scale/run.py --verify-records N`; the figures are medians of `--repeat` runs.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.scale.catalog import operator_catalog
from bench.scale.invoices import check, invoice_run_s, invoice_sums, period_charges
from bench.scale.startup import environment

from tokenops.catalog import parse_catalog
from tokenops.charging.catalog import parse_charging
from tokenops.charging.incremental import verify_full, verify_incremental
from tokenops.charging.ledger import Entry
from tokenops.charging.money import minor_step
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.reconcile import page_of, reconcile_tenants
from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.periods import month_of
from tokenops.store import SQLiteStore, UsageRecord
from tokenops.store.postgres import PostgresStore

DAY_MS = 86_400_000
BATCH = 5_000


def _records(tenants: list[str], n: int, first: int, since_ms: int, until_ms: int) -> list[UsageRecord]:
    rng = random.Random(first)
    out = []
    for i in range(first, first + n):
        tenant = tenants[i % len(tenants)]
        at = since_ms + (until_ms - since_ms) * (i - first) // max(n, 1)
        r = UsageRecord(f"bench-{i:09d}", at, tenant, f"{tenant}-k0", "chat.completions", "tele-lite", 200, "ok",
                        model_served="tele-lite")  # fmt: skip
        r.input_tokens, r.output_tokens = rng.randint(50, 2000), rng.randint(10, 800)
        out.append(r)
    return out


async def write_usage(svc: ChargingService, records: list[UsageRecord]) -> float:
    """Records and their charges, rated by the charging service as its sweeper rates one, in batches; seconds."""
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        batch = records[i : i + BATCH]
        charges: list[Entry] = [e for e in [await svc._rate(r) for r in batch] if e is not None]
        await svc.store.settle(batch, charges, [], [])
    return time.perf_counter() - started


async def _timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    found = await work()
    return time.perf_counter() - started, found


async def measure(tenants: int, n: int, store_kind: str, work: Path, repeat: int, pg: str | None) -> dict[str, Any]:
    spec = parse_catalog(operator_catalog(tenants))
    sectors = {t.id: t.sector for t in spec.tenants.values()}
    home, schema = work / f"verify-{store_kind}-{tenants}", f"bench_verify_{tenants}_{n}"
    home.mkdir()
    store: Any = SQLiteStore(home / "tokenops.db") if store_kind == "sqlite" else PostgresStore(
        pg or "", schema, pool_size=4)  # fmt: skip
    await store.open()
    ledger = ChargingSQLite(store) if store_kind == "sqlite" else ChargingPostgres(store)
    svc = ChargingService(ledger)
    await svc.start(parse_charging(spec))
    svc.sectors = sectors
    row: dict[str, Any] = {"tenants": tenants, "store": store_kind, "records": n}
    ids = sorted(sectors)
    now = int(time.time() * 1000)
    day = n // 30
    month = _records(ids, n - day, 0, now - 30 * DAY_MS, now - DAY_MS)
    row["write_month_s"] = round(await write_usage(svc, month), 1)
    del month
    full_s = []
    for _ in range(repeat):
        secs, found = await _timed(lambda: _full(store, ledger, sectors))
        assert not found.problems, found.problems[:5]
        full_s.append(secs)
    row["full_verify_s"] = round(statistics.median(full_s), 2)
    row["full_entries"] = found.entries
    await write_usage(svc, _records(ids, day, n - day, now - DAY_MS, now - 60_000))
    heads = await _heads(store, store_kind)
    inc_s = []
    for _ in range(repeat):
        secs, found = await _timed(lambda: verify_incremental(ledger, sectors, int(time.time() * 1000)))
        assert not found.problems and found.complete, found.problems[:5]
        inc_s.append(secs)
        await _rewind(store, store_kind, found.saved.id, heads)  # the next repetition reads the same day again
    row["day_entries"], row["day_records"] = found.entries, found.usage_records
    row["incremental_day_s"] = round(statistics.median(inc_s), 2)

    async def records_of(t: str, since_ms: int, until_ms: int) -> list[UsageRecord]:
        result: list[UsageRecord] = await store.usage_records(t, since_ms, until_ms)
        return result

    period = month_of(now)
    page, _ = page_of(ids, "", 100)
    page_s = [(await _timed(lambda: reconcile_tenants(ledger, records_of, sectors, period, page)))[0]
              for _ in range(repeat)]  # fmt: skip
    row["reconcile_page_100_s"] = round(statistics.median(page_s), 2)
    secs, rec = await _timed(lambda: reconcile_tenants(ledger, records_of, sectors, period, ids))
    assert not rec.differences, rec.differences[:5]
    row["reconcile_all_s"] = round(secs, 1)
    row.update(await _invoice_all(store, store_kind, home, environment(pg if store_kind == "postgresql" else None,
                                                                       schema), period, svc))  # fmt: skip
    if store_kind == "postgresql":
        await store.pool.execute(f'DROP SCHEMA "bench_verify_{tenants}_{n}" CASCADE')
    await store.close()
    return row


async def _invoice_all(
    store: Any, kind: str, home: Path, env: dict[str, str], period: str, svc: ChargingService
) -> dict[str, Any]:
    """The month-end run of the period through the CLI, once, and its invoices checked against the ledger."""
    out = home / "invoices.jsonl"
    secs = invoice_run_s(home, env, period, out)
    sums, charges = invoice_sums(out), await period_charges(store, kind, period)
    check(sums, len(svc.credit.accounts), charges, minor_step(svc.config.currency))
    print(f"invoice --all {period}: {sums}; the period's charges in the ledger: {charges}", flush=True)
    return {"invoice_all_s": round(secs, 1), "invoices_per_s": round(sums.invoices / secs)}


async def _full(store: Any, ledger: Any, sectors: dict[str, str]) -> Any:
    return await verify_full(ledger, await store.usage_records(), sectors, int(time.time() * 1000))


async def _heads(store: Any, kind: str) -> list[tuple[Any, ...]]:
    sql = "SELECT account_id, seq, hash, balance_units FROM verify_heads"
    if kind == "sqlite":
        rows: list[tuple[Any, ...]] = await store.run(lambda db: db.execute(sql).fetchall())
        return rows
    return [tuple(r) for r in await store.pool.fetch(sql)]


async def _rewind(store: Any, kind: str, checkpoint: int, heads: list[tuple[Any, ...]]) -> None:
    """Forget a checkpoint and put the accounts' heads back where the one before left them."""
    upsert = ("INSERT INTO verify_heads VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
              "seq = excluded.seq, hash = excluded.hash, balance_units = excluded.balance_units")  # fmt: skip
    if kind == "sqlite":

        def run(db: Any) -> None:
            with db:
                db.execute("DELETE FROM verify_checkpoints WHERE id = ?", (checkpoint,))
                db.executemany(upsert, heads)

        await store.run(run)
        return
    await store.pool.execute("DELETE FROM verify_checkpoints WHERE id = $1", checkpoint)
    await store.pool.executemany(upsert.replace("?, ?, ?, ?", "$1, $2, $3, $4"), heads)


def run(tenants: int, n: int, store_kind: str, work: Path, repeat: int, pg: str | None) -> dict[str, Any]:
    return asyncio.run(measure(tenants, n, store_kind, work, repeat, pg))

"""Every bounded read the product makes, on both stores: filters, the rows they return, and the index each uses."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from tests.conftest import demo_catalog
from tests.scaleout_support import Backend
from tokenops.catalog import parse_catalog
from tokenops.charging.budgets import Alert
from tokenops.charging.invoice import build_invoice, month_bounds
from tokenops.charging.invoicing import invoice_of
from tokenops.charging.ledger import Entry, charge_key
from tokenops.charging.queries import PACKAGE_DRAWS, RECENT_SPEND, SPENDS, among
from tokenops.charging.service import ChargingService
from tokenops.sessions import PostgresTranscripts, RegionalTranscripts, SQLiteTranscripts, TranscriptStore
from tokenops.store import SQLiteStore, UsageRecord
from tokenops.store.base import USAGE_COLUMNS
from tokenops.store.postgres import PostgresStore
from tokenops.store.sql import numbered, usage_where

DAY = 86_400_000


@pytest.fixture
async def service(backend: Backend) -> AsyncIterator[ChargingService]:
    store = backend.store()
    await store.open()
    svc = ChargingService(backend.ledger(store))
    await svc.start(None)
    svc.store_main = store  # type: ignore[attr-defined]
    yield svc
    await store.close()


def _record(rid: str, created: int, tenant: str, session: str | None = None) -> UsageRecord:
    return UsageRecord(rid, created, tenant, "k1", "chat.completions", "tele-lite", 200, "ok", session_id=session,
                       model_served="tele-lite", input_tokens=10, output_tokens=5)  # fmt: skip


def _charge(rid: str, tenant: str, at: int, amount: int, packages: int = 0) -> Entry:
    meta = {"tenant": tenant, "key_id": "k1", "session_id": None, "tokens": [10, 0, 0, 0, 5, 0],
            "model": "tele-lite", "version": "v", "started_ms": at, "rated": amount}  # fmt: skip
    if packages:
        meta["packages"] = {"g1": packages}
    return Entry(tenant, "charge", -amount, charge_key(rid), at, rid, meta)


async def test_usage_reads_filter_by_tenant_period_and_session_in_the_store(service: ChargingService) -> None:
    store = service.store_main  # type: ignore[attr-defined]
    await store.write_usage([_record("a", 10, "t1", "s1"), _record("b", 20, "t1", "s2"), _record("c", 30, "t1", "s1"),
                             _record("d", 40, "t2", "s1"), _record("e", 50, "t1")])  # fmt: skip
    assert [r.request_id for r in await store.usage_records("t1", 15, 50)] == ["b", "c"]
    assert [r.request_id for r in await store.usage_records("t1", session_id="s1")] == ["a", "c"]
    assert [r.request_id for r in await store.usage_records(since_ms=30)] == ["c", "d", "e"]
    [only] = await store.usage_summary(0, 100, "t2")
    assert only["tenant"] == "t2" and only["requests"] == 1 and only["input_tokens"] == 10


async def test_budget_spends_dashboard_spend_and_alerts_read_only_what_they_are_asked(
    service: ChargingService,
) -> None:
    now = int(time.time() * 1000)
    charges = [_charge("old", "t1", now - 40 * DAY, 1000), _charge("r1", "t1", now - 2 * DAY, 300),
               _charge("r2", "t1", now - 1000, 200, packages=7), _charge("r3", "t2", now - 500, 50)]  # fmt: skip
    await service.store.append(charges)
    spends = await service.store.spends(now - 3 * DAY, ["t1"])
    assert sorted(s.amount for s in spends) == [200, 300]  # not the old one, not t2's
    assert len(await service.store.spends(now - 3 * DAY)) == 3
    recent = await service.store.recent_spend(["t1"], now - 3600_000, now - 10 * DAY, now - DAY)
    assert set(recent) == {"t1"}
    assert (recent["t1"].today, recent["t1"].month, recent["t1"].burn_money) == (200, 500, 200)
    assert recent["t1"].burn_tokens == 7
    assert await service.store.charged_since(now - DAY) == 250
    await service.store.write_alerts([Alert("b1", "t1", "2026-12", 80, 8, 10, 1), Alert("b1", "t1", "2026-12", 100,
                                                                                          10, 10, 2)])  # fmt: skip
    assert [a.threshold for a in await service.store.alerts(limit=1)] == [100]  # the newest first, as many as asked


async def _plan(store: SQLiteStore | PostgresStore, sql: str, args: tuple[object, ...]) -> str:
    if isinstance(store, SQLiteStore):
        rows = await store.run(lambda db: db.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall())
        return " ".join(str(r[-1]) for r in rows)
    async with store.pool.acquire() as conn:
        conn: asyncpg.Connection
        await conn.execute("SET enable_seqscan = off")  # a table this small is scanned unless there is no choice
        try:
            rows = await conn.fetch("EXPLAIN " + numbered(sql), *args)
        finally:
            await conn.execute("RESET enable_seqscan")
    return " ".join(r[0] for r in rows)


async def test_each_bounded_read_uses_an_index_not_a_scan_of_the_table(service: ChargingService) -> None:
    store = service.store_main  # type: ignore[attr-defined]
    columns = ", ".join(USAGE_COLUMNS)
    reads = []
    for filters in (("t1", 0, 10, None), ("t1", None, None, "s1"), (None, 0, 10, None)):
        where, args = usage_where(*filters)
        reads.append((f"SELECT {columns} FROM usage_records{where}", args))
    reads += [
        (SPENDS + among("account_id", ["t1", "t2"]), (0, "t1", "t2")),
        (RECENT_SPEND + among("account_id", ["t1"]) + " GROUP BY account_id", (0, 0, 0, 0, "t1")),
        (PACKAGE_DRAWS + among("account_id", ["t1"]), (0, "t1")),
    ]
    for sql, args in reads:
        plan = await _plan(store, sql, args)
        assert "INDEX" in plan.upper(), (sql, plan)
        assert "SCAN usage_records" not in plan and "SCAN ledger_entries" not in plan, (sql, plan)
        assert "Seq Scan" not in plan, (sql, plan)


def _transcripts_of(store: SQLiteStore | PostgresStore) -> TranscriptStore:
    return SQLiteTranscripts(store) if isinstance(store, SQLiteStore) else PostgresTranscripts(store)


async def test_transcripts_are_kept_on_either_store_and_only_inside_a_tenants_residency(
    service: ChargingService,
) -> None:
    main = _transcripts_of(service.store_main)  # type: ignore[attr-defined]
    other = SQLiteStore(":memory:")  # the store of another region
    await other.open()
    east = SQLiteTranscripts(other)
    regional = RegionalTranscripts(main, "cn-north", {"cn-east": east})
    regional.residency = {"gov": ("cn-north",), "acme": ("cn-east",), "far": ("eu-west",)}.__getitem__
    await regional.open()
    try:
        here = await regional.put("gov", "s1", "r1", 10, [{"role": "user", "content": "feeder 7"}])
        there = await regional.put("acme", "s2", "r2", 20, [{"role": "user", "content": "line 3"}])
        assert await regional.put("far", "s3", "r3", 30, [{"role": "user", "content": "x"}]) == "not-stored"
        assert await main.get(here) is not None and await main.get(there) is None  # acme's stayed in cn-east
        found = await regional.get(there)
        assert found is not None and found.messages == [{"role": "user", "content": "line 3"}]
        assert await regional.of_session("gov", "s1") == [here]
        assert await regional.purge("gov", 11) == 1 and await regional.get(here) is None
    finally:
        await other.close()


async def test_an_invoice_read_from_the_period_on_equals_the_one_from_the_whole_history(
    service: ChargingService,
) -> None:
    start, end = month_bounds("2026-11")
    charges = [_charge("oct-1", "t1", start - 5 * DAY, 1_234_567), _charge("nov-1", "t1", start + DAY, 2_500_001),
               _charge("nov-2", "t1", start + 2 * DAY, 777), _charge("dec-1", "t1", end + DAY, 9_999)]  # fmt: skip
    late = _charge("nov-late", "t1", end - 1000, 4_444)  # started in November, written in December (a recovery)
    late = Entry(late.account_id, late.kind, late.amount, late.idem_key, end + 2 * DAY, late.request_id, late.meta)
    await service.store.append([*charges, late])
    whole = build_invoice(await service.store.entries("t1"), "t1", "2026-11", "CNY", Decimal("0.06"))
    bounded = await invoice_of(service.store, "t1", "2026-11", "CNY", Decimal("0.06"))
    assert bounded == whole and sum(line.requests for line in bounded.lines) == 3
    assert bounded.carried_in == whole.carried_in != 0  # October's rounding carried in, from one sum


def test_the_demo_catalog_parses_for_these_tests() -> None:
    assert "acme-manufacturing" in parse_catalog(demo_catalog()).tenants

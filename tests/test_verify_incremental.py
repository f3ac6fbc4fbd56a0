"""Incremental `ledger verify`: each run checks what is new since the last checkpoint, on both stores."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.conftest import demo_catalog
from tests.scaleout_support import Backend
from tokenops.catalog import parse_catalog
from tokenops.charging.catalog import parse_charging
from tokenops.charging.incremental import verify_full, verify_incremental
from tokenops.charging.ledger import Entry
from tokenops.charging.service import ChargingService
from tokenops.store import UsageRecord

CATALOG = parse_catalog(demo_catalog())
SECTORS = {t.id: t.sector for t in CATALOG.tenants.values()}


@pytest.fixture
async def service(backend: Backend) -> AsyncIterator[ChargingService]:
    store = backend.store()
    await store.open()
    svc = ChargingService(backend.ledger(store))
    await svc.start(parse_charging(CATALOG))
    svc.sectors = SECTORS
    yield svc
    await store.close()


def _now() -> int:
    return int(time.time() * 1000)


async def _served(service: ChargingService, *request_ids: str) -> None:
    """Requests served and charged as the gateway does: the usage record, then its charge."""
    for request_id in request_ids:
        record = UsageRecord(request_id, _now() - 1000, "ringback-app", "ringback-default", "chat.completions",
                             "tele-lite", 200, "ok", model_served="tele-lite")  # fmt: skip
        record.input_tokens, record.output_tokens = 1000, 500
        await service.store.settle([record], [], [], [])
        assert await service.charge_record(record) is not None


async def test_a_second_run_reads_only_the_entries_and_records_written_since_the_first(
    service: ChargingService,
) -> None:
    seeded = len(await service.store.entries())
    await _served(service, "r1", "r2", "r3")
    first = await verify_incremental(service.store, SECTORS, _now())
    assert first.problems == [] and first.complete and first.mode == "incremental"
    assert (first.entries, first.usage_records) == (seeded + 3, 3)
    assert first.saved is not None and first.base is None
    await _served(service, "r4", "r5")
    second = await verify_incremental(service.store, SECTORS, _now())
    assert second.problems == []
    assert second.checked() == {"accounts": 1, "entries": 2, "usage_records": 2, "open_reservations": 0}
    assert second.base == first.saved and second.saved is not None
    assert second.saved.through_seq > first.saved.through_seq
    nothing = await verify_incremental(service.store, SECTORS, _now())
    assert (nothing.problems, nothing.entries, nothing.usage_records) == ([], 0, 0)


async def test_a_run_capped_by_its_limit_says_more_is_left_and_the_next_goes_on(service: ChargingService) -> None:
    await verify_incremental(service.store, SECTORS, _now())
    await _served(service, "r1", "r2", "r3")
    page = await verify_incremental(service.store, SECTORS, _now(), limit=2)
    assert (page.problems, page.entries, page.usage_records, page.complete) == ([], 2, 2, False)
    rest = await verify_incremental(service.store, SECTORS, _now(), limit=2)
    assert (rest.problems, rest.entries, rest.usage_records, rest.complete) == ([], 1, 1, True)


async def test_a_forged_charge_written_since_the_checkpoint_is_found_and_the_checkpoint_stays(
    service: ChargingService,
) -> None:
    await _served(service, "r1")
    good = await verify_incremental(service.store, SECTORS, _now())
    forged = Entry("ringback-app", "charge", -5_000_000, "charge:nobody-asked", _now(), "nobody-asked",
                   {"tokens": [1, 1, 0, 0], "version": "2026-01", "rated": 5, "started_ms": _now()})  # fmt: skip
    await service.store.append([forged])
    for _ in range(2):  # found again: the checkpoint did not move past it
        found = await verify_incremental(service.store, SECTORS, _now())
        assert [(p.check, p.subject) for p in found.problems] == [("one_charge", "nobody-asked")]
        assert found.saved == good.saved == await service.store.latest_checkpoint()


async def test_a_new_entry_that_breaks_its_chain_is_found(service: ChargingService, backend: Backend) -> None:
    await _served(service, "r1")
    await verify_incremental(service.store, SECTORS, _now())
    await service.topup("ringback-app", 100, "pay-new")
    await backend.execute("UPDATE ledger_entries SET amount_units = 100000 WHERE idem_key = 'pay-new'")
    found = await verify_incremental(service.store, SECTORS, _now())
    assert sorted(p.check for p in found.problems) == ["balance", "hash_chain"]


async def test_only_a_full_run_finds_an_old_entry_altered_after_it_was_verified(
    service: ChargingService, backend: Backend
) -> None:
    await _served(service, "r1", "r2")
    await verify_incremental(service.store, SECTORS, _now())
    await backend.execute("UPDATE ledger_entries SET amount_units = -1 WHERE idem_key = 'charge:r1'")
    await _served(service, "r3")
    assert (await verify_incremental(service.store, SECTORS, _now())).problems == []  # reads r3's charge only
    before = await service.store.latest_checkpoint()
    full = await verify_full(service.store, await _records(backend), SECTORS, _now())
    assert {p.check for p in full.problems} >= {"hash_chain", "rated_usage"}
    assert await service.store.latest_checkpoint() == before


async def test_a_clean_full_run_checkpoints_so_the_next_incremental_run_starts_after_it(
    service: ChargingService, backend: Backend
) -> None:
    await _served(service, "r1", "r2")
    full = await verify_full(service.store, await _records(backend), SECTORS, _now())
    assert full.problems == [] and full.saved is not None and full.saved.mode == "full"
    await _served(service, "r3")
    after = await verify_incremental(service.store, SECTORS, _now())
    assert (after.problems, after.entries, after.usage_records) == ([], 1, 1)


async def _records(backend: Backend) -> list[UsageRecord]:
    store = backend.store()
    await store.open()
    try:
        return await store.usage_records()
    finally:
        await store.close()

"""The charging store's contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.conftest import demo_catalog
from tests.scaleout_support import Backend
from tokenops.catalog import parse_catalog
from tokenops.charging.catalog import parse_charging
from tokenops.charging.ledger import Entry, FloorBreached, LedgerConflict
from tokenops.charging.money import minor_step
from tokenops.charging.service import ChargingService
from tokenops.charging.store import HoldRow
from tokenops.charging.verify import check_balances, check_chains
from tokenops.store import UsageRecord

FEN = minor_step("CNY")  # accounting units in one fen


@pytest.fixture
async def service(backend: Backend) -> AsyncIterator[ChargingService]:
    store = backend.store()
    await store.open()
    svc = ChargingService(backend.ledger(store))
    await svc.start(parse_charging(parse_catalog(demo_catalog())))
    yield svc
    await store.close()


async def test_seeding_twice_creates_accounts_balances_and_packages_once(service: ChargingService) -> None:
    config = parse_charging(parse_catalog(demo_catalog()))
    await service.store.seed(config, 1)
    await service.load()
    acme = service.credit.accounts["acme-manufacturing"]
    assert acme.balance == (500_000 - 19_900) * FEN  # opening balance less the coding package
    assert [g.total for g in acme.grants.values()] == [50_000_000]
    assert service.credit.accounts["cn-gov-energy"].limit == 20_000_000 * FEN
    assert len(await service.store.entries("acme-manufacturing")) == 2


async def test_same_top_up_key_twice_is_recorded_once(service: ChargingService) -> None:
    assert await service.topup("ringback-app", 5000 * FEN, "pay-1") is True
    assert await service.topup("ringback-app", 5000 * FEN, "pay-1") is False
    await service.load()
    assert service.credit.accounts["ringback-app"].balance == (100_000 + 5000) * FEN


async def test_same_key_with_a_different_body_is_rejected(service: ChargingService) -> None:
    await service.topup("ringback-app", 5000 * FEN, "pay-2")
    with pytest.raises(LedgerConflict, match="pay-2"):
        await service.topup("ringback-app", 7000 * FEN, "pay-2")


async def test_a_debit_below_the_floor_is_refused_and_leaves_nothing(service: ChargingService) -> None:
    with pytest.raises(FloorBreached):
        await service.topup("ringback-app", -100_000 * FEN - 1, "fix-1", kind="adjustment")
    assert len(await service.store.entries("ringback-app")) == 1


async def test_entries_chain_per_account_and_tampering_breaks_the_chain(
    service: ChargingService, backend: Backend
) -> None:
    for i in range(3):
        await service.topup("ringback-app", 100 + i, f"pay-{i}")
    entries = await service.store.entries()
    assert check_chains(entries) == []
    assert check_balances(await service.store.accounts(), entries) == []
    await backend.execute("UPDATE ledger_entries SET amount_units = 1 WHERE idem_key = 'pay-1'")
    tampered = await service.store.entries()
    assert [p.check for p in check_chains(tampered)] == ["hash_chain"]
    assert [p.check for p in check_balances(await service.store.accounts(), tampered)] == ["balance"]


async def test_a_package_grant_is_idempotent_and_shows_its_remaining_tokens(service: ChargingService) -> None:
    assert await service.grant_package("acme-manufacturing", "coding-50m", "order-7", starts_ms=1) is True
    assert await service.grant_package("acme-manufacturing", "coding-50m", "order-7", starts_ms=1) is False
    await service.load()
    assert service.credit.accounts["acme-manufacturing"].package_tokens() == 100_000_000


async def test_entries_written_elsewhere_reach_a_running_service(service: ChargingService, backend: Backend) -> None:
    other = backend.store()
    await other.open()
    try:
        cli = ChargingService(backend.ledger(other))
        await cli.start(None)
        await cli.topup("ringback-app", 2500 * FEN, "pay-cli")
    finally:
        await other.close()
    assert await service.refresh() == 1
    assert service.credit.accounts["ringback-app"].balance == (100_000 + 2500) * FEN


def test_entry_body_hash_ignores_when_it_was_written() -> None:
    a = Entry("a", "topup", 1, "k", 1)
    assert a.body_hash() == Entry("a", "topup", 1, "k", 2).body_hash() != Entry("a", "topup", 2, "k", 1).body_hash()


def _record(request_id: str, started: int, tokens: tuple[int, int]) -> UsageRecord:
    record = UsageRecord(request_id, started, "ringback-app", "ringback-default", "chat.completions", "tele-lite", 200,
                         "ok", model_served="tele-lite")  # fmt: skip
    record.input_tokens, record.output_tokens = tokens
    return record


async def test_sweeper_settles_expired_reservations_from_recorded_usage_and_releases_the_rest(
    service: ChargingService,
) -> None:
    now = int(time.time() * 1000)
    credit = service.credit
    account = credit.accounts["ringback-app"]
    holds = [credit.reserve(f"r{i}", "ringback-app", "retail", "ringback-default", None, "tele-lite", 1_000_000,
                            1_000_000, now) for i in range(2)]  # fmt: skip
    rows = [HoldRow(h.request_id, h.account.id, h.money, h.expires_ms, h.started_ms) for h in holds if h]
    recorded = _record("r0", now, (400_000, 100_000))  # r0 got as far as its usage record; r1 left nothing
    await service.store.settle([recorded], [], rows, [])
    assert account.reserved > 0
    assert await service.sweep(now + credit.ttl_ms + service.grace_ms + 1) == 2
    assert account.reserved == 0 and credit.holds == {}
    [charge] = [e for e in await service.store.entries("ringback-app") if e.kind == "charge"]
    # retail 0.9: 0.4M x 0.60 x 0.9 + 0.1M x 1.20 x 0.9 = 0.324 CNY
    assert charge.request_id == "r0" and charge.amount == -324_000
    assert await service.store.open_holds() == []


async def test_recovery_charges_a_recorded_request_whose_reservation_a_crash_left_open(
    service: ChargingService, backend: Backend
) -> None:
    now = int(time.time() * 1000)
    row = HoldRow("r9", "ringback-app", 500 * FEN, now + 1000, now)
    other = backend.store()  # another process on the same database, which crashes and never beat a heart
    await other.open()
    await backend.ledger(other).settle([_record("r9", now, (1_000_000, 0))], [], [row], [])
    await other.close()
    await service.load()  # as a new process would, which knows the tenants' sectors from the catalog
    service.sectors = {"ringback-app": "retail"}
    assert await service.recover() == ["r9"]
    [charge] = [e for e in await service.store.entries("ringback-app") if e.kind == "charge"]
    assert charge.amount == -54 * FEN and await service.store.open_holds() == []  # 1M x 0.60 x 0.9

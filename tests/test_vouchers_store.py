"""Vouchers on each store: issued as keyed hashes only, redeemed once into the hash-chained ledger, every way a
redemption can be refused, and concurrent redemptions of one code by two services on one database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.plan_support import Moment, at, plan_service
from tests.scaleout_support import Backend
from tokenops.charging.service import ChargingService
from tokenops.charging.verify import verify_ledger
from tokenops.charging.vouchers import shown
from tokenops.keys import KeyHasher

HASH = KeyHasher(b"test-secret").digest


@pytest.fixture
async def service(backend: Backend) -> AsyncIterator[tuple[ChargingService, Moment]]:
    moment = Moment(at("2027-04-01T00:00:00"))
    svc = await plan_service(backend, moment)
    yield svc, moment
    await svc.store._store.close()  # type: ignore[attr-defined]


async def _dump(backend: Backend) -> str:
    """Every row of every table, as text: what someone reading the database would see."""
    if backend.kind == "sqlite":
        db = sqlite3.connect(backend.path)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return repr([db.execute(f"SELECT * FROM {t}").fetchall() for t in tables])
        finally:
            db.close()
    conn = await asyncpg.connect(backend.dsn, server_settings={"search_path": backend.schema})
    try:
        tables = [r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1",
                                                 backend.schema)]  # fmt: skip
        return repr([[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t}")] for t in tables])
    finally:
        await conn.close()


async def test_a_money_voucher_is_credited_once_and_its_code_is_stored_only_as_a_keyed_hash(
    service: tuple[ChargingService, Moment], backend: Backend
) -> None:
    svc, moment = service
    batch, codes = await svc.create_vouchers("money", 3, at("2027-05-01T00:00:00"), HASH, amount=50_000_000,
                                             note="spring cards", created_by="ops")  # fmt: skip
    assert len(set(codes)) == 3 and all(len(c) == 20 for c in codes)
    before = svc.credit.accounts["ringback-app"].balance
    first = await svc.redeem_voucher(shown(codes[0]).lower(), "ringback-app", "consumer", HASH)  # as typed
    assert first.outcome == "redeemed" and first.entry is not None and first.entry.kind == "voucher"
    assert svc.credit.accounts["ringback-app"].balance == before + 50_000_000
    again = await svc.redeem_voucher(codes[0], "ringback-app", "consumer", HASH)
    assert again.outcome == "replayed" and again.entry is not None and again.entry.seq == first.entry.seq
    assert (await svc.redeem_voucher(codes[0], "acme-manufacturing", "enterprise", HASH)).outcome == "used"
    assert svc.credit.accounts["ringback-app"].balance == before + 50_000_000
    dump = await _dump(backend)
    assert not any(code in dump or shown(code) in dump for code in codes), "no code is stored in clear"
    assert HASH("voucher", codes[1]) in dump
    assert await svc.revoke_vouchers(batch.id, HASH, code=codes[1]) == 1
    assert (await svc.redeem_voucher(codes[1], "ringback-app", "consumer", HASH)).outcome == "revoked"
    assert (await svc.redeem_voucher("0" * 20, "ringback-app", "consumer", HASH)).outcome == "unknown"
    assert (await svc.redeem_voucher("not a code", "ringback-app", "consumer", HASH)).outcome == "malformed"
    moment.ms = at("2027-05-01T00:00:00")
    assert (await svc.redeem_voucher(codes[2], "ringback-app", "consumer", HASH)).outcome == "expired"
    [(listed, counts)] = await svc.store.voucher_batches()
    assert listed.id == batch.id and counts == {"redeemed": 1, "revoked": 1, "active": 1}
    found = await verify_ledger(svc.store, [], svc.sectors, moment.ms)
    assert found.problems == []
    await svc.load()
    assert svc.credit.accounts["ringback-app"].balance == before + 50_000_000


async def test_a_token_voucher_grants_its_package_free_to_the_tenants_or_kinds_it_names(
    service: tuple[ChargingService, Moment],
) -> None:
    svc, _ = service
    expires = at("2027-05-01T00:00:00")
    _, codes = await svc.create_vouchers("tokens", 2, expires, HASH, package="coding-50m", tenant_kinds=["consumer"])
    assert (await svc.redeem_voucher(codes[0], "acme-manufacturing", "enterprise", HASH)).outcome == "not_eligible"
    before = svc.credit.accounts["ringback-app"].balance
    done = await svc.redeem_voucher(codes[0], "ringback-app", "consumer", HASH)
    assert done.entry is not None and done.entry.kind == "package_grant" and done.entry.amount == 0
    account = svc.credit.accounts["ringback-app"]
    assert account.package_tokens() == 50_000_000 and account.balance == before
    _, named = await svc.create_vouchers("money", 1, expires, HASH, amount=1_000_000, tenants=["cn-gov-energy"])
    assert (await svc.redeem_voucher(named[0], "ringback-app", "consumer", HASH)).outcome == "not_eligible"
    assert (await svc.redeem_voucher(named[0], "cn-gov-energy", "government", HASH)).outcome == "redeemed"


async def test_concurrent_redemptions_of_one_code_by_two_services_on_one_database_credit_it_once(
    service: tuple[ChargingService, Moment], backend: Backend
) -> None:
    svc, moment = service
    other = await plan_service(backend, moment)  # another process on the same database
    try:
        _, [code] = await svc.create_vouchers("money", 1, at("2027-05-01T00:00:00"), HASH, amount=7_000_000)
        tenants = ("ringback-app", "acme-manufacturing")
        found = await asyncio.gather(*(
            (svc, other)[i % 2].redeem_voucher(code, tenants[i % 4 // 2], "any", HASH) for i in range(40)
        ))  # fmt: skip
        outcomes = [f.outcome for f in found]
        assert outcomes.count("redeemed") == 1 and set(outcomes) <= {"redeemed", "replayed", "used"}
        entries = [e for e in await svc.store.entries() if e.kind == "voucher"]
        assert len(entries) == 1 and entries[0].amount == 7_000_000
    finally:
        await other.store._store.close()  # type: ignore[attr-defined]

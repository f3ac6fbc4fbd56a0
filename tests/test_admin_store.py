"""Contract tests for the admin store, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.scaleout_support import Backend
from tokenops.store.admin import AdminStore, AdminToken, AuditDraft, KeyRow, SecurityEvent, verify_chain


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AdminStore]:
    main = backend.store()
    await main.open()  # creates the catalog and key tables the admin store shares
    admin = backend.admin()
    await admin.open()
    yield admin
    await admin.close()
    await main.close()


async def test_seeding_never_overwrites(store: AdminStore) -> None:
    await store.seed_admin([AdminToken("op", "operator", None, "h1")], {("limits", "current"): {"rules": []}})
    await store.seed_admin([AdminToken("op", "operator", None, "h2")], {("limits", "current"): {"x": 1}})
    assert (await store.admin_token("h1")) == AdminToken("op", "operator", None, "h1")
    assert await store.admin_token("h2") is None
    assert await store.get_doc("limits", "current") == {"rules": []}
    assert await store.version() == 0  # seeding is not a change


async def test_changes_are_chained_and_tampering_is_found(store: AdminStore, backend: Backend) -> None:
    row = KeyRow("k1", "t1", "sk-to-abc", ("m",), "active", None, 1)
    await store.insert_key(row, "hash1", AuditDraft("op", "keys.create", "k1", "t1", None, row.public()))
    await store.update_key("k1", AuditDraft("op", "keys.revoke", "k1", "t1", {"s": 1}, {"s": 2}), status="revoked")
    await store.put_doc("deployment", "d1", {"id": "d1"}, AuditDraft("op", "deployments.create", "d1", None))
    entries = await store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3] and verify_chain(entries) is None
    assert [k.status for k in await store.keys("t1")] == ["revoked"] and await store.version() == 3
    assert [e.action for e in await store.audit_entries("t1")] == ["keys.create", "keys.revoke"]
    with pytest.raises(Exception, match="append-only"):
        await backend.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    # someone with full database access disables the guard and rewrites history
    drop = (
        "DROP TRIGGER audit_log_no_update"
        if backend.kind == "sqlite"
        else "DROP TRIGGER audit_log_append_only ON audit_log"
    )
    await backend.execute(drop, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    assert verify_chain(await store.audit_entries()) == 2


async def test_events_round_trip_newest_first(store: AdminStore) -> None:
    for i in range(3):
        await store.add_event(SecurityEvent(i, "t1" if i else "t2", "k", "velocity", 0.9, "throttle", {"n": i}))
    assert [e.evidence["n"] for e in await store.events()] == [2, 1, 0]
    assert [e.tenant_id for e in await store.events("t2")] == ["t2"]

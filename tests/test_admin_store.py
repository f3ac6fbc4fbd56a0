"""Contract tests for the admin store (SQLite now; the scaled-out store runs the same ones)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tokenops.store import SQLiteStore
from tokenops.store.admin import AdminStore, AdminToken, AuditDraft, KeyRow, SecurityEvent, verify_chain
from tokenops.store.sqlite_admin import SQLiteAdminStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AdminStore]:
    main = SQLiteStore(tmp_path / "t.db")
    await main.open()  # creates the catalog and key tables the admin store shares
    admin = SQLiteAdminStore(tmp_path / "t.db")
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


async def test_changes_are_chained_and_tampering_is_found(store: AdminStore, tmp_path: Path) -> None:
    row = KeyRow("k1", "t1", "sk-to-abc", ("m",), "active", None, 1)
    await store.insert_key(row, "hash1", AuditDraft("op", "keys.create", "k1", "t1", None, row.public()))
    await store.update_key("k1", AuditDraft("op", "keys.revoke", "k1", "t1", {"s": 1}, {"s": 2}), status="revoked")
    await store.put_doc("deployment", "d1", {"id": "d1"}, AuditDraft("op", "deployments.create", "d1", None))
    entries = await store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3] and verify_chain(entries) is None
    assert [k.status for k in await store.keys("t1")] == ["revoked"] and await store.version() == 3
    assert [e.action for e in await store.audit_entries("t1")] == ["keys.create", "keys.revoke"]
    db = sqlite3.connect(tmp_path / "t.db")
    try:
        db.execute("DROP TRIGGER audit_log_no_update")  # someone with file access rewrites history
        db.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
        db.commit()
    finally:
        db.close()
    assert verify_chain(await store.audit_entries()) == 2


async def test_events_round_trip_newest_first(store: AdminStore) -> None:
    for i in range(3):
        await store.add_event(SecurityEvent(i, "t1" if i else "t2", "k", "velocity", 0.9, "throttle", {"n": i}))
    assert [e.evidence["n"] for e in await store.events()] == [2, 1, 0]
    assert [e.tenant_id for e in await store.events("t2")] == ["t2"]

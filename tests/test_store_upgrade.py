"""A store written by an earlier release opens, gains the new columns, and keeps its records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tokenops.store import SQLiteStore, UsageRecord

V1_USAGE = """
CREATE TABLE usage_records (
    request_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL,
    api TEXT NOT NULL, model_requested TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,
    session_id TEXT, correlation_id TEXT, end_user TEXT, model_served TEXT, deployment_id TEXT, region TEXT,
    stream INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL, usage_source TEXT NOT NULL, error_code TEXT, latency_ms REAL NOT NULL,
    ttft_ms REAL
);
INSERT INTO usage_records VALUES ('req_old', 1, 't', 'k', 'chat.completions', 'm', 200, 'ok', NULL, NULL, NULL,
    'm', 'd', 'r', 0, 10, 20, 0, 'upstream', NULL, 1.5, NULL);
"""


async def test_old_usage_table_gains_new_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "tokenops.db"
    db = sqlite3.connect(path)
    db.executescript(V1_USAGE)
    db.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        new_record = UsageRecord("req_new", 2, "t", "k", "messages", "m", 200, "ok", cache_write_tokens=7)
        new_record.routing_score, new_record.routing_choice = 0.25, "weak"
        await store.write_usage([new_record])
        old, new = await store.usage_records("t")
    finally:
        await store.close()
    assert (old.request_id, old.input_tokens, old.output_tokens, old.cache_write_tokens) == ("req_old", 10, 20, 0)
    assert old.routing_score is None
    assert (new.cache_write_tokens, new.routing_score, new.routing_choice) == (7, 0.25, "weak")

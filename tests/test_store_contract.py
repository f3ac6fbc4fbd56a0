"""The store's contract, run against every backend (SQLite and PostgreSQL) through one fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import demo_catalog
from tests.scaleout_support import Backend
from tokenops.catalog import parse_catalog
from tokenops.store import Store, UsageRecord


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    store = backend.store()
    await store.open()
    yield store
    await store.close()


def _hash(plaintext: str) -> str:
    return "h:" + plaintext


def _record(request_id: str, created: int, tenant: str = "acme", status: int = 200, tokens: int = 10) -> UsageRecord:
    return UsageRecord(request_id, created, tenant, "k1", "chat.completions", "tele-lite", status, "ok",
                       model_served="tele-lite", stream=True, input_tokens=tokens, output_tokens=2 * tokens,
                       latency_ms=1.5, routing_score=0.25, routing_choice="weak")  # fmt: skip


async def test_seeding_twice_creates_the_catalog_once_and_never_overwrites(store: Store) -> None:
    spec = parse_catalog(demo_catalog())
    await store.seed(spec, _hash)
    first = await store.load_catalog()
    data = demo_catalog()
    data["tenants"][0]["name"] = "renamed in YAML"
    await store.seed(parse_catalog(data), _hash)
    again = await store.load_catalog()
    assert set(again.tenants) == set(spec.tenants) and set(again.models) == set(spec.models)
    assert set(again.deployments) == set(spec.deployments) and set(again.aliases) == set(spec.aliases)
    assert again.tenants == first.tenants
    assert len(again.keys) == len(spec.keys) and all(h.startswith("h:") for h in again.keys)


async def test_a_usage_record_written_twice_is_stored_once_with_every_field(store: Store) -> None:
    record = _record("req_1", 5)
    record.ttft_ms, record.cache_write_tokens, record.error_code = 2.5, 3, None
    await store.write_usage([record, _record("req_2", 6)])
    await store.write_usage([record])
    stored = await store.usage_records()
    assert [r.request_id for r in stored] == ["req_1", "req_2"]
    assert stored[0] == record and stored[0].stream is True


async def test_usage_records_filter_by_tenant_in_time_order(store: Store) -> None:
    await store.write_usage([_record("b", 20, "t2"), _record("a", 10, "t1"), _record("c", 30, "t1")])
    assert [r.request_id for r in await store.usage_records("t1")] == ["a", "c"]


async def test_usage_summary_totals_per_tenant_and_model_within_the_period(store: Store) -> None:
    await store.write_usage([_record("a", 10, tokens=5), _record("b", 20, status=502, tokens=0),
                             _record("c", 30, tokens=7), _record("e", 35, status=429, tokens=0),
                             _record("d", 40, "t2")])  # fmt: skip
    summary = await store.usage_summary(since_ms=10, until_ms=40)
    assert summary == [{"tenant": "acme", "model": "tele-lite", "requests": 4, "input_tokens": 12,
                        "output_tokens": 24, "cached_tokens": 0, "refused": 1, "errors": 1}]  # fmt: skip


async def test_an_empty_batch_writes_nothing(store: Store) -> None:
    await store.write_usage([])
    assert await store.usage_records() == []

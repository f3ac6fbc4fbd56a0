"""SQL written once for both stores: `?` placeholders, numbered (`$1`, `$2`, …) for PostgreSQL.

Only statements whose text is the same on both databases belong here; where the dialects
truly differ (upserts with RETURNING, JSON functions, array parameters) each store keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import orjson

from tokenops.catalog import CatalogSpec
from tokenops.catalog.codec import to_doc

SEEDED = ("seed", "catalog")  # the catalog_objects row that keeps the fingerprint of the catalog last seeded

USAGE_FILTERS = ("tenant_id = ?", "created_ms >= ?", "created_ms < ?", "session_id = ?")


@cache
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$n` (no statement here has a `?` inside a literal)."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def usage_where(
    tenant_id: str | None, since_ms: int | None, until_ms: int | None, session_id: str | None
) -> tuple[str, tuple[object, ...]]:
    """The WHERE clause of a usage read (every filter optional) and its arguments, in `?` style."""
    given = (tenant_id, since_ms, until_ms, session_id)
    clauses = [c for c, v in zip(USAGE_FILTERS, given, strict=True) if v is not None]
    args = tuple(v for v in given if v is not None)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


USAGE_SUMMARY = (
    "SELECT tenant_id, coalesce(model_served, model_requested), count(*), "
    "sum(input_tokens), sum(output_tokens), sum(cached_tokens), "
    "sum(CASE WHEN status IN (402, 403, 429) THEN 1 ELSE 0 END), "
    "sum(CASE WHEN status >= 400 AND status NOT IN (402, 403, 429) THEN 1 ELSE 0 END) FROM usage_records"
)
SUMMARY_NAMES = ("tenant", "model", "requests", "input_tokens", "output_tokens", "cached_tokens", "refused", "errors")


def catalog_rows(spec: CatalogSpec, now_ms: int) -> list[tuple[str, str, str, int]]:
    """The catalog's tenants, models, deployments and aliases as catalog_objects rows."""
    rows: list[tuple[str, str, str, int]] = []
    for kind, objects in (
        ("tenant", spec.tenants),
        ("model", spec.models),
        ("deployment", spec.deployments),
        ("alias", spec.aliases),
    ):
        rows += [(kind, name, orjson.dumps(to_doc(obj)).decode(), now_ms) for name, obj in objects.items()]
    return rows


def key_rows(spec: CatalogSpec, hash_key: Callable[[str], str], now_ms: int) -> list[tuple[object, ...]]:
    """The catalog's keys as api_keys rows (a plaintext key hashed with the server's secret)."""
    rows: list[tuple[object, ...]] = []
    for k in spec.keys:
        key_hash = k.key_hash or hash_key(k.plaintext or "")
        prefix = (k.plaintext or "")[:8]
        rows.append((k.id, k.tenant_id, key_hash, prefix, orjson.dumps(list(k.models)).decode(), "active", None,
                     now_ms))  # fmt: skip
    return rows

"""What the gateway asks of its store: the catalog it seeds and reads, and usage records.

Two implementations sit behind this: SQLite (embedded default) and, when scaled out,
PostgreSQL. Each usage record is keyed by the gateway's own request id, so writing
the same record twice stores it once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tokenops.catalog import Catalog, CatalogSpec


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    created_ms: int
    tenant_id: str
    key_id: str
    api: str
    model_requested: str
    status: int
    outcome: str
    session_id: str | None = None
    correlation_id: str | None = None
    end_user: str | None = None
    model_served: str | None = None
    deployment_id: str | None = None
    region: str | None = None
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    usage_source: str = "none"
    error_code: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    routing_score: float | None = None  # the complexity router's score, when it chose the model
    routing_choice: str | None = None  # "weak" or "strong"
    reasoning_tokens: int = 0  # of output_tokens
    cache_write_1h_tokens: int = 0  # of cache_write_tokens: writes kept an hour


USAGE_COLUMNS: tuple[str, ...] = tuple(UsageRecord.__dataclass_fields__)
CATALOG_DOCS = "SELECT kind, id, doc FROM catalog_objects WHERE kind IN ('tenant', 'model', 'deployment', 'alias')"
KEY_ROWS = "SELECT id, tenant_id, key_hash, prefix, models, status, expires_at FROM api_keys"
# what the usage reads filter on, on both stores: a tenant's period, a tenant's session, every tenant's period
USAGE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS usage_by_tenant_time ON usage_records (tenant_id, created_ms)",
    "CREATE INDEX IF NOT EXISTS usage_by_session ON usage_records (tenant_id, session_id, created_ms)",
    "CREATE INDEX IF NOT EXISTS usage_by_time ON usage_records (created_ms)",
)


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def seed(self, spec: CatalogSpec, hash_key: Callable[[str], str]) -> None:
        """Create what the catalog names and the store lacks; never overwrite."""

    async def seeded(self) -> dict[str, Any] | None:
        """The fingerprint of the catalog file the store was last seeded from (None: never seeded)."""

    async def mark_seeded(self, fingerprint: dict[str, Any]) -> None: ...

    async def load_catalog(self) -> Catalog: ...

    async def write_usage(self, records: Sequence[UsageRecord]) -> None:
        """Store the records durably (all or none) before returning."""

    async def usage_records(
        self,
        tenant_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        session_id: str | None = None,
    ) -> list[UsageRecord]:
        """The records matching every filter given (a tenant, a period [since, until), a session), in time order."""

    async def usage_summary(
        self, since_ms: int | None = None, until_ms: int | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Totals per tenant and model: requests, input/output/cached tokens, refusals (402/403/429), errors."""

    async def clock_ms(self) -> int | None:
        """The clock every process sharing this store agrees on; None where this host's clock is it (embedded)."""

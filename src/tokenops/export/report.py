"""What `tokenops export status` and `GET /admin/export/status` show: each sink's position and lag."""

from __future__ import annotations

from typing import Any

from tokenops.export.outbox import SinkStatus


def status_doc(found: list[SinkStatus], now_ms: int) -> dict[str, Any]:
    sinks = []
    for s in found:
        age = (now_ms - s.oldest_unpublished_ms) / 1000 if s.oldest_unpublished_ms is not None else 0.0
        sinks.append({
            "sink": s.sink,
            "position": s.position,
            "head": s.head,
            "lag_events": s.lag,
            "lag_seconds": round(max(age, 0.0), 3),
            "published": s.published,
            "owner": s.owner,
            "lease_until_ms": s.lease_until_ms,
            "updated_ms": s.updated_ms,
            "error": s.error,
        })  # fmt: skip
    return {"sinks": sinks}

"""The request log: one JSON line per settled request, never with prompt or completion text.

Records carry no content, so nothing here can leak it; the line is written whole in one
call so lines from concurrent requests never interleave.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from tokenops.store import UsageRecord
from tokenops.telemetry.pricing import Money


def log_line(r: UsageRecord, money: Money | None) -> bytes:
    doc: dict[str, Any] = {
        "ts": datetime.fromtimestamp(r.created_ms / 1000, UTC).isoformat(timespec="milliseconds"),
        "event": "request",
        "request_id": r.request_id,
        "correlation_id": r.correlation_id,
        "session_id": r.session_id,
        "tenant": r.tenant_id,
        "key": r.key_id,
        "api": r.api,
        "model": r.model_requested,
        "model_served": r.model_served,
        "deployment": r.deployment_id,
        "region": r.region,
        "stream": r.stream,
        "status": r.status,
        "outcome": r.outcome,
        "error_code": r.error_code,
        "tokens": {"input": r.input_tokens, "output": r.output_tokens, "cached": r.cached_tokens},
        "usage_source": r.usage_source,
        "latency_ms": r.latency_ms,
        "ttft_ms": r.ttft_ms,
    }
    if money is not None:
        doc["money"] = {"rated_units": money.rated, "upstream_cost_units": money.cost, "currency": money.currency}
    return orjson.dumps(doc) + b"\n"


class RequestLog:
    def __init__(self, target: str) -> None:
        self._file: IO[bytes] | None = None
        self._text: IO[str] | None = None
        if target in ("stdout", "stderr"):
            self._text = sys.stdout if target == "stdout" else sys.stderr
        else:
            self._file = open(target, "ab", buffering=0)  # noqa: SIM115 (closed in close())

    def write(self, r: UsageRecord, money: Money | None) -> None:
        line = log_line(r, money)
        if self._file is not None:
            self._file.write(line)
        elif self._text is not None:
            self._text.write(line.decode())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

"""What every metered handler shares: the usage record it opens, fills and settles."""

from __future__ import annotations

import time

from tokenops.asgi import Request
from tokenops.errors import TokenopsError
from tokenops.gateway.auth import Principal
from tokenops.store import UsageRecord
from tokenops.usage import Usage

_REFUSALS = {401: "refused", 402: "refused", 403: "refused", 404: "refused", 429: "refused", 503: "unavailable"}


def open_record(req: Request, principal: Principal, api: str, now_ms: int) -> UsageRecord:
    """`now_ms` on the shared clock: the request is rated at the prices, and counted in the periods, of then."""
    return UsageRecord(
        request_id=req.request_id,
        created_ms=now_ms,
        tenant_id=principal.tenant.id,
        key_id=principal.key.id,
        api=api,
        model_requested="",
        status=200,
        outcome="ok",
        session_id=req.header(b"x-session-id"),
        correlation_id=req.header(b"x-request-id"),
        end_user=req.header(b"x-end-user"),
    )


def fail(record: UsageRecord, err: TokenopsError) -> None:
    record.status = err.status
    record.error_code = err.code
    if record.outcome == "ok":
        record.outcome = _REFUSALS.get(err.status, "invalid" if err.status < 500 else "upstream_error")


def add_usage(record: UsageRecord, usage: Usage) -> None:
    record.input_tokens = usage.input_tokens
    record.output_tokens = usage.output_tokens
    record.cached_tokens = usage.cached_tokens
    record.cache_write_tokens = usage.cache_write_tokens
    record.reasoning_tokens = usage.reasoning_tokens
    record.cache_write_1h_tokens = usage.cache_write_1h_tokens
    record.usage_source = usage.source


def finish(req: Request, record: UsageRecord) -> None:
    record.latency_ms = round((time.perf_counter() - req.started) * 1000, 3)

"""Interim usage: a long stream's usage so far, kept in its reservation on record (as in online charging).

While a stream runs, its reservation row is written again at each interim interval with the
tokens it has used so far and what identifies the request. If the process serving it dies,
recovery has no usage record for it, but has this: it records the request with the last
reported usage (outcome `interrupted`, usage source `interim`) and charges it, so a crash
loses at most one interval of billing per stream rather than the whole stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.charging.store import HoldRow
from tokenops.store import UsageRecord

_CARRIED = ("key_id", "api", "model_requested", "session_id", "correlation_id", "end_user", "model_served",
            "deployment_id", "region", "stream", "routing_score", "routing_choice")  # fmt: skip


def interim_doc(record: UsageRecord, tokens: tuple[int, ...], at_ms: int) -> str:
    """The JSON kept in the reservation: the request's identity, and its usage so far as a usage record counts it
    (prompt tokens with the cached ones among them, cached, cache write, output; then reasoning and hour-long
    cache writes, where there were any)."""
    doc: dict[str, Any] = {name: getattr(record, name) for name in _CARRIED}
    doc["tokens"], doc["at_ms"] = list(tokens), at_ms
    return orjson.dumps(doc).decode()


def interim_record(row: HoldRow) -> UsageRecord | None:
    """The usage record of a request whose process died mid-stream, from its last interim report; None if none."""
    if not row.interim:
        return None
    try:
        doc = orjson.loads(row.interim)
        inp, cached, cache_write, out, *more = (int(n) for n in doc["tokens"])
        reasoning, cache_write_1h = (*more, 0, 0)[:2]
        fields = {name: doc.get(name) for name in _CARRIED}
        record = UsageRecord(row.request_id, row.created_ms, row.account_id, str(fields.pop("key_id") or ""),
                             str(fields.pop("api") or ""), str(fields.pop("model_requested") or ""), 200,
                             "interrupted", **fields)  # fmt: skip
        record.latency_ms = float(max(0, int(doc.get("at_ms", row.created_ms)) - row.created_ms))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    record.input_tokens, record.cached_tokens, record.cache_write_tokens, record.output_tokens = (
        inp, cached, cache_write, out)  # fmt: skip
    record.reasoning_tokens, record.cache_write_1h_tokens = reasoning, cache_write_1h
    record.usage_source, record.error_code = "interim", "process_stopped"
    return record

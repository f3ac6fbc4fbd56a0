"""Traces of the request path, sent as OTLP/HTTP JSON to a collector, with no SDK.

Only built when an endpoint is configured, so the default costs nothing. Each settled
request becomes a span named after the GenAI semantic conventions ("chat tele-lite"), with
a child span for the upstream call and an event at the first token; spans leave in
batches from a background task, and a full queue drops spans rather than slow requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import aiohttp
import orjson

from tokenops.store import UsageRecord

log = logging.getLogger("tokenops.telemetry")
MAX_QUEUE = 10_000
_OPERATIONS = {"chat.completions": "chat", "messages": "chat", "responses": "chat", "embeddings": "embeddings"}


def _attr(key: str, value: str | int | float | bool) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def spans_of(r: UsageRecord) -> list[dict[str, Any]]:
    """The request's server span and, when it reached an upstream, the client span of that call."""
    trace_id, root_id = secrets.token_hex(16), secrets.token_hex(8)
    start = r.created_ms * 1_000_000
    end = start + int(r.latency_ms * 1_000_000)
    operation = _OPERATIONS.get(r.api, r.api)
    attrs = [
        _attr("gen_ai.operation.name", operation),
        _attr("gen_ai.request.model", r.model_requested),
        _attr("gen_ai.usage.input_tokens", r.input_tokens),
        _attr("gen_ai.usage.output_tokens", r.output_tokens),
        _attr("http.response.status_code", r.status),
        _attr("tokenops.request_id", r.request_id),
        _attr("tokenops.tenant", r.tenant_id),
        _attr("tokenops.outcome", r.outcome),
        _attr("tokenops.stream", r.stream),
    ]
    if r.model_served:
        attrs.append(_attr("gen_ai.response.model", r.model_served))
    if r.error_code:
        attrs.append(_attr("error.type", r.error_code))
    status = {"code": 2, "message": r.error_code or r.outcome} if r.status >= 500 else {"code": 1}
    root: dict[str, Any] = {
        "traceId": trace_id, "spanId": root_id, "name": f"{operation} {r.model_requested}".strip(), "kind": 2,
        "startTimeUnixNano": str(start), "endTimeUnixNano": str(end), "attributes": attrs, "status": status,
    }  # fmt: skip
    if r.ttft_ms is not None:
        at = start + int(r.ttft_ms * 1_000_000)
        root["events"] = [{"timeUnixNano": str(at), "name": "gen_ai.first_token"}]
    spans = [root]
    if r.deployment_id is not None:
        spans.append({
            "traceId": trace_id, "spanId": secrets.token_hex(8), "parentSpanId": root_id,
            "name": f"{operation} {r.model_served or r.model_requested}", "kind": 3,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(end), "status": status,
            "attributes": [_attr("gen_ai.system", "tokenops.deployment"), _attr("server.address", r.deployment_id),
                           _attr("cloud.region", r.region or ""),
                           _attr("gen_ai.response.model", r.model_served or r.model_requested)],
        })  # fmt: skip
    return spans


class SpanExporter:
    def __init__(self, endpoint: str, service: str, every_s: float = 1.0) -> None:
        base = endpoint.rstrip("/")
        self.url = base if base.endswith("/v1/traces") else base + "/v1/traces"
        self.service = service
        self.every_s = every_s
        self.queue: list[UsageRecord] = []
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._task = asyncio.create_task(self._run())

    def add(self, record: UsageRecord) -> None:
        if len(self.queue) >= MAX_QUEUE:
            self.dropped += 1
            return
        self.queue.append(record)

    def payload(self, records: list[UsageRecord]) -> bytes:
        spans = [s for r in records for s in spans_of(r)]
        resource = {"attributes": [_attr("service.name", self.service)]}
        scope = {"scope": {"name": "tokenops"}, "spans": spans}
        return orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [scope]}]})

    async def flush(self) -> None:
        if not self.queue or self._session is None:
            return
        batch, self.queue = self.queue[:2000], self.queue[2000:]
        try:
            async with self._session.post(self.url, data=self.payload(batch),
                                          headers={"content-type": "application/json"}) as resp:  # fmt: skip
                if resp.status >= 300:
                    log.warning("trace export to %s answered %d", self.url, resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("trace export to %s failed: %s", self.url, exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await self.flush()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        if self._session is not None:
            await self._session.close()

"""Sessions and transcripts in the admin API: a session's totals, and the full conversation behind a compaction."""

from __future__ import annotations

from typing import Any

from tokenops.admin.http import Call
from tokenops.errors import NotFound


async def get_transcript(call: Call) -> Any:
    archive = call.state.compaction.archive
    found = await archive.get(call.params["transcript_id"]) if archive is not None else None
    if found is None or not (call.actor.operator or found.tenant_id == call.actor.tenant):
        raise NotFound("no such transcript", code="transcript_not_found")  # another tenant's does not exist
    return {
        "id": found.id,
        "tenant": found.tenant_id,
        "session_id": found.session_id,
        "request_id": found.request_id,
        "created_ms": found.created_ms,
        "messages": found.messages,
    }


async def get_session(call: Call) -> Any:
    tenant = call.actor.scope(call.query.get("tenant"))
    if tenant is None:
        raise NotFound("name the session's tenant with ?tenant=", code="tenant_required")
    session_id = call.params["session_id"]
    records = await call.state.store.usage_records(tenant, session_id=session_id)
    if not records:
        raise NotFound("no such session", code="session_not_found")
    archive = call.state.compaction.archive
    return {
        "tenant": tenant,
        "session_id": session_id,
        "requests": len(records),
        "input_tokens": sum(r.input_tokens for r in records),
        "output_tokens": sum(r.output_tokens for r in records),
        "cached_tokens": sum(r.cached_tokens for r in records),
        "first_ms": records[0].created_ms,
        "last_ms": records[-1].created_ms,
        "models": sorted({r.model_served for r in records if r.model_served}),
        "transcripts": await archive.of_session(tenant, session_id) if archive is not None else [],
    }

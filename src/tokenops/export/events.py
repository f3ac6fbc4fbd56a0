"""Usage records and ledger entries as CloudEvents 1.0 (structured JSON), the form the export publishes.

The event id is the record's request id or the entry's ledger sequence number; with the source it
names one event for ever, so a consumer de-duplicates on (source, id). Money is an integer count of
the accounting unit (a millionth of the currency's major unit), with the exact decimal beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tokenops.charging.money import format_exact

USAGE_TYPE = "io.tokenops.usage.recorded.v1"
LEDGER_TYPE = "io.tokenops.ledger.entry.v1"
USAGE_SOURCE = "/tokenops/usage"
LEDGER_SOURCE = "/tokenops/ledger"
_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Event:
    position: int  # in the outbox
    msg_id: str  # unique across both kinds: what the stream de-duplicates on
    subject: str
    body: bytes


def subject_token(value: str) -> str:
    """A NATS subject token: no dots, wildcards or spaces (they would split or widen the subject)."""
    return _TOKEN.sub("_", value)[:128] or "_"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(position: int, id: str, source: str, kind: str, subject: str, at_ms: int, data: dict[str, Any]) -> bytes:
    return orjson.dumps({
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": kind,
        "subject": subject,
        "time": _time(at_ms),
        "datacontenttype": "application/json",
        "outboxposition": str(position),
        "data": data,
    })  # fmt: skip


def usage_event(position: int, row: dict[str, Any], prefix: str) -> Event:
    data = {**row, "stream": bool(row["stream"])}
    tenant = row["tenant_id"]
    body = _event(position, row["request_id"], USAGE_SOURCE, USAGE_TYPE, tenant, row["created_ms"], data)
    return Event(position, "usage:" + row["request_id"], f"{prefix}.usage.{subject_token(tenant)}", body)


def ledger_event(position: int, row: dict[str, Any], prefix: str) -> Event:
    meta = orjson.loads(row["meta"]) if isinstance(row["meta"], str) else row["meta"]
    data = {**row, "meta": meta, "amount": format_exact(row["amount_units"])}
    account = row["account_id"]
    body = _event(position, str(row["seq"]), LEDGER_SOURCE, LEDGER_TYPE, account, row["created_ms"], data)
    return Event(position, f"ledger:{row['seq']}", f"{prefix}.ledger.{subject_token(account)}", body)

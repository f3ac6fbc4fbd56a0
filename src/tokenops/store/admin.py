"""What the admin API and the traffic guard ask of the store: admin tokens, keys, documents,
the hash-chained audit log and security events.

Every change takes an `AuditDraft` and is written in the same transaction as its audit entry,
so no change is ever stored without its entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

Role = Literal["operator", "tenant-admin"]


@dataclass(frozen=True, slots=True)
class AdminToken:
    id: str
    role: Role
    tenant_id: str | None
    token_hash: str
    status: str = "active"


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    tenant_id: str
    prefix: str
    models: tuple[str, ...]
    status: str
    expires_at: str | None
    created_ms: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant_id,
            "prefix": self.prefix,
            "models": list(self.models),
            "status": self.status,
            "expires_at": self.expires_at,
            "created_ms": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class AuditDraft:
    actor: str
    action: str
    target: str
    tenant_id: str | None
    before: Any = None
    after: Any = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at_ms: int
    actor: str
    action: str
    target: str
    tenant_id: str | None
    before: Any
    after: Any
    prev_hash: str
    hash: str


@dataclass(slots=True)
class SecurityEvent:
    at_ms: int
    tenant_id: str
    key_id: str
    detector: str
    score: float
    action: str
    evidence: dict[str, Any] = field(default_factory=dict)
    id: int = 0


class AdminStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def seed_admin(self, tokens: list[AdminToken], docs: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Create the admin tokens and documents the store lacks; never overwrite."""

    async def admin_token(self, token_hash: str) -> AdminToken | None: ...

    async def get_doc(self, kind: str, id: str) -> dict[str, Any] | None: ...

    async def docs(self, kind: str) -> dict[str, dict[str, Any]]: ...

    async def put_doc(self, kind: str, id: str, doc: dict[str, Any], audit: AuditDraft) -> None: ...

    async def keys(self, tenant_id: str | None = None) -> list[KeyRow]: ...

    async def insert_key(self, row: KeyRow, key_hash: str, audit: AuditDraft) -> None: ...

    async def update_key(
        self,
        key_id: str,
        audit: AuditDraft,
        *,
        status: str | None = None,
        key_hash: str | None = None,
        prefix: str | None = None,
    ) -> None: ...

    async def audit_entries(self, tenant_id: str | None = None, limit: int = 1000) -> list[AuditEntry]: ...

    async def add_event(self, event: SecurityEvent) -> None: ...

    async def events(self, tenant_id: str | None = None, limit: int = 1000) -> list[SecurityEvent]: ...

    async def version(self) -> int:
        """Grows with every audited change: replicas poll it to reload their snapshot."""


GENESIS = "0" * 64


def chain_hash(prev_hash: str, seq: int, at_ms: int, draft: AuditDraft) -> str:
    """The hash of one audit entry, covering the previous entry's hash (the chain)."""
    body = orjson.dumps(
        [prev_hash, seq, at_ms, draft.actor, draft.action, draft.target, draft.tenant_id, draft.before, draft.after],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def verify_chain(entries: list[AuditEntry]) -> int | None:
    """The seq of the first entry that breaks the chain, or None when all hold (entries in seq order)."""
    prev = GENESIS
    for e in entries:
        draft = AuditDraft(e.actor, e.action, e.target, e.tenant_id, e.before, e.after)
        if e.prev_hash != prev or e.hash != chain_hash(prev, e.seq, e.at_ms, draft):
            return e.seq
        prev = e.hash
    return None

"""Alerts and the webhooks they go to; how a delivery is signed and how a receiver checks it.

A delivery is an HTTP POST of the alert as JSON with `X-Tokenops-Timestamp` (Unix seconds) and
`X-Tokenops-Signature: v1=<hex HMAC-SHA256 of "<timestamp>." + body, keyed with the webhook's secret>`.
A receiver recomputes the HMAC, compares in constant time and refuses a timestamp too far from its
clock, so a captured delivery cannot be replayed later; `X-Tokenops-Alert-Id` de-duplicates retries.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("low_balance", "runway", "package_allowance", "plan_allowance", "budget", "extraction",
         "residency_violation", "end_user_quota")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Alert:
    seq: int
    key: str  # what makes it one alert: the same key again is the same crossing, never sent twice
    kind: str
    tenant: str | None
    at_ms: int
    payload: dict[str, Any] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        return {"id": self.seq, "key": self.key, "kind": self.kind, "tenant": self.tenant, "at_ms": self.at_ms,
                **self.payload}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    secret: str
    tenant: str | None = None  # None: the operator's, for every tenant's alerts
    kinds: tuple[str, ...] = ()  # empty: every kind
    active: bool = True

    def wants(self, kind: str, tenant: str | None) -> bool:
        if not self.active or (self.kinds and kind not in self.kinds):
            return False
        return self.tenant is None or self.tenant == tenant

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "tenant": self.tenant, "kinds": list(self.kinds),
                "active": self.active}  # fmt: skip


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: str, alert_id: int, attempt: int, body: bytes, now_s: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "tokenops-alerts/1",
        "X-Tokenops-Alert-Id": str(alert_id),
        "X-Tokenops-Delivery-Attempt": str(attempt),
        "X-Tokenops-Timestamp": str(now_s),
        "X-Tokenops-Signature": signature(secret, now_s, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered.get("x-tokenops-timestamp", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(lowered.get("x-tokenops-signature", ""), signature(secret, timestamp, body))

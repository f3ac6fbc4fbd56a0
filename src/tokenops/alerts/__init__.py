"""Alerts that reach people and systems: stored once per crossing, delivered to webhooks as signed POSTs.

Anything that notices a crossing raises it with `Alerts.emit(kind, tenant, payload, key)`; the key
names the crossing (the same key again is the same alert, never sent twice, whichever replica says it).
"""

from tokenops.alerts.config import AlertRules, BalanceRule
from tokenops.alerts.model import KINDS, Alert, Webhook, signature, verify
from tokenops.alerts.service import Alerts, check_url
from tokenops.alerts.store import AlertStore, alert_store_for

__all__ = [
    "KINDS",
    "Alert",
    "AlertRules",
    "AlertStore",
    "Alerts",
    "BalanceRule",
    "Webhook",
    "alert_store_for",
    "check_url",
    "signature",
    "verify",
]

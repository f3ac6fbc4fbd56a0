"""Where the usage export goes: set by environment variables, as store URLs are."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tokenops.errors import ConfigError

_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True, slots=True)
class ExportSettings:
    nats_url: str = ""  # TOKENOPS_EXPORT_NATS_URL: nats://host:4222 (empty: no export; the outbox is kept a while)
    stream: str = "TOKENOPS"  # TOKENOPS_EXPORT_STREAM: the JetStream stream (created when missing)
    subject: str = "tokenops"  # TOKENOPS_EXPORT_SUBJECT: events go to <subject>.usage.<tenant>, .ledger.<account>
    duplicate_window_s: float = 600.0  # the stream's de-duplication window, when this creates the stream
    retain_days: float = 7.0  # TOKENOPS_EXPORT_RETAIN_DAYS: outbox rows kept after publication (or unexported)
    batch: int = 500
    lease_s: float = 10.0  # TOKENOPS_EXPORT_LEASE_S: a dead publisher's sink is taken over after this long
    in_gateway: bool = True  # TOKENOPS_EXPORT_IN_GATEWAY=0: gateways leave publishing to `tokenops export run`

    @property
    def enabled(self) -> bool:
        return bool(self.nats_url)

    @property
    def sink(self) -> str:
        """The name the outbox keeps this sink's position under."""
        return f"nats:{self.stream}"

    @classmethod
    def from_env(cls) -> ExportSettings:
        found = cls(
            nats_url=os.environ.get("TOKENOPS_EXPORT_NATS_URL", ""),
            stream=os.environ.get("TOKENOPS_EXPORT_STREAM", "TOKENOPS"),
            subject=os.environ.get("TOKENOPS_EXPORT_SUBJECT", "tokenops"),
            retain_days=float(os.environ.get("TOKENOPS_EXPORT_RETAIN_DAYS", 7.0)),
            lease_s=float(os.environ.get("TOKENOPS_EXPORT_LEASE_S", 10.0)),
            in_gateway=os.environ.get("TOKENOPS_EXPORT_IN_GATEWAY", "1").lower() not in ("0", "false", "no", "off"),
        )
        found.check()
        return found

    def check(self) -> None:
        if self.nats_url and not self.nats_url.startswith(("nats://", "tls://")):
            raise ConfigError("TOKENOPS_EXPORT_NATS_URL: a nats:// or tls:// URL")
        if not _STREAM.match(self.stream):
            raise ConfigError("TOKENOPS_EXPORT_STREAM: letters, digits, '_' and '-' only (at most 64)")
        if not _SUBJECT.match(self.subject):
            raise ConfigError("TOKENOPS_EXPORT_SUBJECT: dot-separated tokens of letters, digits, '_' and '-'")
        if not 0.5 <= self.lease_s <= 3600:
            raise ConfigError("TOKENOPS_EXPORT_LEASE_S: seconds, from 0.5 to 3600")
        if not self.retain_days > 0:
            raise ConfigError("TOKENOPS_EXPORT_RETAIN_DAYS: a positive number of days")

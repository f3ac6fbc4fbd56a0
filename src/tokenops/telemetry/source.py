"""What telemetry reads from the running gateway, as a protocol (so telemetry never imports the gateway)."""

from __future__ import annotations

from typing import Protocol

from tokenops.catalog import Catalog
from tokenops.charging.service import ChargingService
from tokenops.health import Health
from tokenops.security import Guard


class Source(Protocol):
    catalog: Catalog
    health: Health
    charging: ChargingService
    guard: Guard
    in_flight: int

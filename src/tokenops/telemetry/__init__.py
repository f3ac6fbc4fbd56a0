"""Telemetry: Prometheus metrics, the JSON request log, live dashboard aggregates, trace export."""

from tokenops.telemetry.config import TelemetryConfig
from tokenops.telemetry.core import Telemetry

__all__ = ["Telemetry", "TelemetryConfig"]

"""Deployment health: a circuit breaker per deployment, how busy each one is and how fast it answers."""

from __future__ import annotations

import time
from dataclasses import dataclass

_ALPHA = 0.2  # weight of the newest sample in the latency average


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    open_until: float = 0.0
    in_flight: int = 0
    latency_ms: float = 0.0  # EWMA of the time to the upstream's first answer


class Health:
    """Opens a deployment's circuit after consecutive failures; lets one probe through after a pause."""

    def __init__(self, threshold: int = 5, pause_s: float = 10.0) -> None:
        self.threshold = threshold
        self.pause_s = pause_s
        self._circuits: dict[str, _Circuit] = {}

    def _get(self, deployment: str) -> _Circuit:
        circuit = self._circuits.get(deployment)
        if circuit is None:
            circuit = self._circuits[deployment] = _Circuit()
        return circuit

    def available(self, deployment: str) -> bool:
        circuit = self._circuits.get(deployment)
        if circuit is None or circuit.failures < self.threshold:
            return True
        now = time.monotonic()
        if now >= circuit.open_until:
            circuit.open_until = now + self.pause_s  # half-open: this caller is the probe
            return True
        return False

    def state(self, deployment: str) -> str:
        circuit = self._circuits.get(deployment)
        if circuit is None or circuit.failures < self.threshold:
            return "closed"
        return "open" if time.monotonic() < circuit.open_until else "half_open"

    def success(self, deployment: str, latency_ms: float | None = None) -> None:
        circuit = self._get(deployment)
        circuit.failures = 0
        if latency_ms is not None:
            previous = circuit.latency_ms
            circuit.latency_ms = latency_ms if previous == 0.0 else previous + _ALPHA * (latency_ms - previous)

    def latency(self, deployment: str) -> float:
        """EWMA of the time to first answer in ms; 0 for a deployment not yet measured (so it gets tried)."""
        circuit = self._circuits.get(deployment)
        return circuit.latency_ms if circuit else 0.0

    def failure(self, deployment: str) -> None:
        circuit = self._get(deployment)
        circuit.failures += 1
        if circuit.failures >= self.threshold:
            circuit.open_until = time.monotonic() + self.pause_s

    def busy(self, deployment: str) -> int:
        circuit = self._circuits.get(deployment)
        return circuit.in_flight if circuit else 0

    def enter(self, deployment: str) -> None:
        self._get(deployment).in_flight += 1

    def leave(self, deployment: str) -> None:
        self._get(deployment).in_flight -= 1

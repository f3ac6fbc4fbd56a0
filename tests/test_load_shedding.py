"""Past its capacity the gateway refuses at once with 503 and Retry-After instead of queueing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.gateway.state import Settings

HEADERS = {"Authorization": "Bearer sk-demo-acme"}
BODY = {"model": "tele-max", "messages": [{"role": "user", "content": "long answer"}], "stream": True}


def slow_max(capacity: int) -> dict[str, Any]:
    catalog = demo_catalog()
    for dep in catalog["deployments"]:
        if dep["model"] == "tele-max":
            dep["simulate"] = {"reply_tokens": 40, "tokens_per_s": 40}
            dep["capacity"] = capacity
    return catalog


def hold_streams(gw: Gateway, n: int) -> tuple[list[threading.Thread], threading.Event, list[int]]:
    """Open n streams and keep them running until released; returns once all have started."""
    started = threading.Semaphore(0)
    release = threading.Event()
    statuses: list[int] = []

    def run() -> None:
        with httpx.stream("POST", gw.url + "/v1/chat/completions", json=BODY, headers=HEADERS, timeout=30) as r:
            statuses.append(r.status_code)
            started.release()
            for _ in r.iter_lines():
                if release.is_set():
                    pass

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for _ in range(n):
        assert started.acquire(timeout=10)
    return threads, release, statuses


def test_deployment_at_capacity_sheds_with_503_and_retry_after(tmp_path: Path) -> None:
    gw = start_gateway(slow_max(2), tmp_path / "home")
    try:
        threads, release, statuses = hold_streams(gw, 2)
        response = httpx.post(gw.url + "/v1/chat/completions", json=BODY, headers=HEADERS)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "deployment_overloaded"
        assert response.headers["retry-after"] == "1"
        release.set()
        for t in threads:
            t.join(30)
        assert statuses == [200, 200]
        again = httpx.post(gw.url + "/v1/chat/completions", json={**BODY, "stream": False}, headers=HEADERS)
        assert again.status_code == 200
        outcomes = sorted(r["outcome"] for r in gw.records())
        assert outcomes == ["ok", "ok", "ok", "unavailable"]
    finally:
        gw.server.stop()


def test_process_in_flight_limit_sheds_before_authentication(tmp_path: Path) -> None:
    gw = start_gateway(slow_max(0), tmp_path / "home", Settings(max_in_flight=2))
    try:
        threads, release, _ = hold_streams(gw, 2)
        response = httpx.post(gw.url + "/v1/chat/completions", json=BODY, headers=HEADERS)
        assert response.status_code == 503 and response.json()["error"]["code"] == "gateway_overloaded"
        assert httpx.get(gw.url + "/healthz").status_code == 200
        release.set()
        for t in threads:
            t.join(30)
        assert len(gw.records()) == 2  # the shed request was never authenticated: no record owed
    finally:
        gw.server.stop()

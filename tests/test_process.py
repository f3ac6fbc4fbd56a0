"""The gateway as a real process: records survive SIGKILL, SIGTERM drains streams in flight."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from tests.conftest import demo_catalog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    def __init__(self, tmp: Path, catalog: dict[str, Any]) -> None:
        self.home = tmp / "home"
        config = tmp / "catalog.yaml"
        config.write_text(yaml.safe_dump(catalog))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, TOKENOPS_SHUTDOWN_GRACE_S="10")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tokenops", "serve", "--config", str(config), "--port", str(self.port),
             "--home", str(self.home)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gateway did not start: " + (self.proc.stderr.read() or b"").decode()[-2000:])  # type: ignore[union-attr]
            time.sleep(0.05)

    def record_ids(self) -> dict[str, str]:
        db = sqlite3.connect(self.home / "tokenops.db")
        try:
            return dict(db.execute("SELECT request_id, outcome FROM usage_records").fetchall())
        finally:
            db.close()


def slow_process(tmp_path: Path) -> Iterator[Process]:
    """The demo gateway as a process, its simulated models paced so requests overlap; killed after."""
    catalog = demo_catalog()
    for dep in catalog["deployments"]:
        dep["simulate"] = {"reply_tokens": 60, "tokens_per_s": 120}
    proc = Process(tmp_path, catalog)
    yield proc
    if proc.proc.poll() is None:
        proc.proc.kill()
    proc.proc.wait(10)
    if proc.proc.stderr:
        proc.proc.stderr.close()


@pytest.fixture
def process(tmp_path: Path) -> Iterator[Process]:
    yield from slow_process(tmp_path)


HEADERS = {"Authorization": "Bearer sk-demo-acme"}


def _request(url: str, stream: bool, done: list[str], lock: threading.Lock) -> None:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": f"q{time.monotonic()}"}], "stream": stream}
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=HEADERS, timeout=30) as r:
            text = "".join(r.iter_text())
            if r.status_code == 200 and (not stream or text.rstrip().endswith("data: [DONE]")):
                with lock:
                    done.append(r.headers["x-request-id"])
    except httpx.TransportError:
        pass  # killed mid-response: this request never completed, so it owes no record


def kill_under_load(process: Process, requests: int, completed_first: int) -> list[str]:
    """Send `requests` requests (every other one streamed), SIGKILL the gateway once at least
    `completed_first` have completed, and return the ids of every response that completed."""
    done: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_request, args=(process.url, i % 2 == 0, done, lock)) for i in range(requests)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    deadline = time.monotonic() + 20
    while len(done) < completed_first and time.monotonic() < deadline:
        time.sleep(0.005)
    process.proc.send_signal(signal.SIGKILL)
    for t in threads:
        t.join(30)
    process.proc.wait(10)
    with lock:
        completed = list(done)
    assert len(completed) >= completed_first
    return completed


def test_every_completed_response_has_its_record_after_sigkill(process: Process) -> None:
    completed = kill_under_load(process, 40, 15)
    stored = process.record_ids()
    missing = [rid for rid in completed if rid not in stored]
    assert missing == [], f"{len(missing)} completed responses have no usage record"
    assert len(completed) < 40 or len(stored) == 40


def test_sigterm_lets_streams_in_flight_finish_and_settles_them(process: Process) -> None:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": "long"}], "stream": True}
    with httpx.stream("POST", process.url + "/v1/chat/completions", json=body, headers=HEADERS, timeout=30) as r:
        lines = r.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        assert first
        process.proc.send_signal(signal.SIGTERM)
        rest = list(lines)
        request_id = r.headers["x-request-id"]
    assert rest[-1] == "data: [DONE]" or "data: [DONE]" in rest
    assert process.proc.wait(15) in (0, -signal.SIGTERM)  # drained, then ended by the signal it was sent
    assert process.record_ids() == {request_id: "ok"}

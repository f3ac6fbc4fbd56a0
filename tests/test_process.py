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


def serve_process(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """`tokenops serve <args>` on a free port, once it answers /readyz; its stderr kept for the error."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenops", "serve", "--port", str(port), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.communicate()[1] or b""
            raise RuntimeError("gateway did not start: " + err.decode()[-2000:])
        time.sleep(0.05)


class Process:
    def __init__(self, tmp: Path, catalog: dict[str, Any], extra_env: dict[str, str] | None = None) -> None:
        self.home = tmp / "home"
        config = tmp / "catalog.yaml"
        config.write_text(yaml.safe_dump(catalog))
        env = dict(os.environ, TOKENOPS_SHUTDOWN_GRACE_S="10", **(extra_env or {}))
        self.proc, self.port = serve_process(["--config", str(config), "--home", str(self.home)], env)
        self.url = f"http://127.0.0.1:{self.port}"

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


def _behind_a_proxy(tmp: Path, trusted: str | None) -> list[int]:
    """Statuses of a key allowed only from 203.0.113.0/24, for a client that claims (X-Forwarded-For) to be
    inside it and for one outside, both reaching the gateway through a proxy on 127.0.0.1."""
    tmp.mkdir()
    proc = Process(tmp, demo_catalog(), {"TOKENOPS_TRUSTED_PROXIES": trusted} if trusted is not None else None)
    try:
        operator = {"Authorization": "Bearer adm-demo-operator"}
        made = httpx.post(proc.url + "/admin/keys", headers=operator, timeout=10,
                          json={"tenant": "acme-manufacturing", "allowed_networks": ["203.0.113.0/24"]})  # fmt: skip
        body = {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]}
        statuses = []
        for client in ("203.0.113.7", "198.51.100.1"):
            headers = {"Authorization": f"Bearer {made.json()['secret']}", "X-Forwarded-For": client}
            statuses.append(httpx.post(proc.url + "/v1/chat/completions", json=body, headers=headers).status_code)
        return statuses
    finally:
        proc.proc.terminate()
        proc.proc.wait(20)
        if proc.proc.stderr:
            proc.proc.stderr.close()


def test_x_forwarded_for_names_the_client_only_when_it_comes_from_a_trusted_proxy(tmp_path: Path) -> None:
    assert _behind_a_proxy(tmp_path / "trusted", "127.0.0.1, 10.0.0.0/8") == [200, 403]
    assert _behind_a_proxy(tmp_path / "untrusted", None) == [403, 403], "a client chose its own address"


def test_a_bad_trusted_proxy_setting_is_refused_at_start(tmp_path: Path) -> None:
    config = tmp_path / "catalog.yaml"
    config.write_text(yaml.safe_dump(demo_catalog()))
    done = subprocess.run(
        [sys.executable, "-m", "tokenops", "serve", "--config", str(config), "--port", str(free_port()),
         "--home", str(tmp_path / "home")],
        env=dict(os.environ, TOKENOPS_TRUSTED_PROXIES="10.0.0.0/33"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and "TOKENOPS_TRUSTED_PROXIES" in done.stderr, done.stderr[-2000:]

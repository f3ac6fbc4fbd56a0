"""A request's charge is durable before its last byte: SIGKILL the gateway, then check the ledger."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charging_support import verify
from tests.conftest import demo_catalog
from tests.test_process import Process, _request


@pytest.fixture
def slow(tmp_path: Path) -> Any:
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


def _charged(home: Path) -> set[str]:
    db = sqlite3.connect(home / "tokenops.db")
    try:
        return {r[0] for r in db.execute("SELECT request_id FROM ledger_entries WHERE kind = 'charge'")}
    finally:
        db.close()


def test_every_completed_response_is_charged_after_sigkill_and_a_restart_recovers(
    slow: Process, tmp_path: Path
) -> None:
    done: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_request, args=(slow.url, i % 2 == 0, done, lock)) for i in range(30)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    deadline = time.monotonic() + 20
    while len(done) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    slow.proc.send_signal(signal.SIGKILL)
    for t in threads:
        t.join(30)
    slow.proc.wait(10)
    with lock:
        completed = list(done)
    assert len(completed) >= 10
    charged = _charged(slow.home)
    assert [rid for rid in completed if rid not in charged] == []
    restarted = Process(tmp_path, _catalog_of(tmp_path))  # recovery closes what the killed process left open
    restarted.proc.send_signal(signal.SIGTERM)
    restarted.proc.wait(20)
    if restarted.proc.stderr:
        restarted.proc.stderr.close()
    assert verify(slow.home) == []


def _catalog_of(tmp_path: Path) -> Any:
    return yaml.safe_load((tmp_path / "catalog.yaml").read_text())

"""A request's charge is durable before its last byte: SIGKILL the gateway, then check the ledger."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charging_support import verify
from tests.test_process import Process, kill_under_load, slow_process


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Process]:
    yield from slow_process(tmp_path)


def _charged(home: Path) -> set[str]:
    db = sqlite3.connect(home / "tokenops.db")
    try:
        return {r[0] for r in db.execute("SELECT request_id FROM ledger_entries WHERE kind = 'charge'")}
    finally:
        db.close()


def test_every_completed_response_is_charged_after_sigkill_and_a_restart_recovers(
    slow: Process, tmp_path: Path
) -> None:
    completed = kill_under_load(slow, 30, 10)
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

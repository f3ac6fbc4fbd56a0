"""NATS JetStream for the export tests: a stream of each test's own on the machine's server (deleted after),
a throwaway server for outages, and what the stream and the store each hold, to match one to one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
import orjson
import pytest

from tokenops.export import read_events
from tokenops.export.events import LEDGER_SOURCE, USAGE_SOURCE

NATS_URL = os.environ.get("TOKENOPS_TEST_NATS", "nats://127.0.0.1:4222")
KINDS = {USAGE_SOURCE: "usage", LEDGER_SOURCE: "ledger"}


async def _delete_stream(url: str, name: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


async def _reachable(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
    await nc.jetstream().account_info()
    await nc.close()


@pytest.fixture
def export_stream() -> Iterator[str]:
    """A stream name of this test's own on the machine's NATS (JetStream); the stream is deleted after."""
    try:
        asyncio.run(_reachable(NATS_URL))
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        pytest.skip(f"NATS with JetStream is unreachable at {NATS_URL}: {exc}")
    name = "TEST_" + secrets.token_hex(4).upper()
    yield name
    asyncio.run(_delete_stream(NATS_URL, name))


def stream_keys(url: str, name: str) -> list[tuple[str, str]]:
    """Every event in the stream as (kind, event id), in stream order (duplicates kept, to be found)."""
    return asyncio.run(stream_keys_async(url, name))


async def stream_keys_async(url: str, name: str) -> list[tuple[str, str]]:
    try:
        events = await read_events(url, name, 1, 1_000_000)
    except nats.js.errors.NotFoundError:
        return []  # not made yet
    out = []
    for _, data in events:
        event = orjson.loads(data)
        out.append((KINDS[event["source"]], event["id"]))
    return out


def wait_for_stream(
    url: str, name: str, expected: set[tuple[str, str]], timeout_s: float = 30
) -> list[tuple[str, str]]:
    """The stream's events once it holds every expected one (or what it holds at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = stream_keys(url, name)
        except (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError):
            found = []
        if expected <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


class NatsServer:
    """A throwaway `nats-server -js` on a free port with a store folder of its own (stopped and started at will)."""

    def __init__(self) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.skip("nats-server is not on PATH: no throwaway server for the outage test")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="tokenops-nats-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                asyncio.run(_reachable(self.url))
                return
            except (OSError, nats.errors.Error, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def remove(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()

"""`tokenops serve --workers N`: several processes on one port, and every invariant that holds across
replicas holds across them — one rate limit, one prepaid balance that never passes its floor, one usage
record per request — and a worker that dies is started again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import yaml

from tests.charging_support import priced_catalog
from tests.conftest import demo_catalog
from tests.replica_processes import replica_env as replica_env  # a fixture
from tests.replica_processes import tenant_ledger
from tests.scaleout_support import REDIS_URL
from tests.test_process import free_port
from tokenops.charging.money import format_amount

CONSUMER_KEY, CONSUMER = "sk-demo-consumer", "ringback-app"
ACME_KEY = "sk-demo-acme"
BALANCE = 10_000_000  # accounting units (10.00 CNY): covers some of the streams, not all
RPM = 25


class Workers:
    """`tokenops serve --workers 2` as a process tree: the supervisor and its workers."""

    def __init__(self, tmp: Path, catalog: dict[str, Any], env: dict[str, str], dsn: str) -> None:
        config = tmp / "catalog.yaml"
        config.write_text(yaml.safe_dump(catalog))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "tokenops", "serve", "--workers", "2", "--port", str(self.port),
                "--config", str(config), "--home", str(tmp / "home"), "--database-url", dsn,
                "--redis-url", REDIS_URL]  # fmt: skip
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(self.workers()) < 2 or not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("workers did not start: " + (self.proc.communicate()[1] or b"").decode()[-2000:])
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def workers(self) -> list[int]:
        """The worker processes' ids, read from the kernel's list of the supervisor's children."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture
def workers(tmp_path: Path, pg_database: str, replica_env: dict[str, str]) -> Iterator[Workers]:
    catalog = priced_catalog(demo_catalog(), format_amount(BALANCE, "CNY"), ttft_ms=20, tokens_per_s=1000,
                             reply_tokens=200)  # fmt: skip
    catalog["limits"] = {"rules": [{"name": "acme-rpm", "tenant": "acme-manufacturing", "per": "tenant", "rpm": RPM}]}
    started = Workers(tmp_path, catalog, replica_env, pg_database)
    try:
        yield started
    finally:
        started.stop()


async def _chat(client: openai.AsyncOpenAI, i: int) -> int:
    try:
        await client.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": f"line check {i}"}], max_tokens=8
        )
        return 200
    except openai.RateLimitError as err:
        assert isinstance(err.body, dict) and err.body.get("code") == "rate_limit_rpm", err
        return 429


async def _stream(client: openai.AsyncOpenAI, i: int) -> tuple[int, int]:
    """(status, tokens the client was told it used)."""
    try:
        stream = await client.chat.completions.create(
            model="tele-lite", messages=[{"role": "user", "content": f"status report {i} of the ringback tones"}],
            stream=True, stream_options={"include_usage": True}, max_tokens=64,
        )  # fmt: skip
        tokens = 0
        async for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens
        return 200, tokens
    except openai.APIStatusError as err:
        assert err.status_code == 402 and isinstance(err.body, dict), err
        assert err.body.get("code") == "insufficient_balance", err
        return 402, 0


async def _bursts(url: str, chats: int, streams: int) -> tuple[list[int], list[tuple[int, int]]]:
    # a connection each, so the kernel deals the connections out among the workers
    acme = [openai.AsyncOpenAI(base_url=url + "/v1", api_key=ACME_KEY, max_retries=0, timeout=60) for _ in range(8)]
    consumer = [
        openai.AsyncOpenAI(base_url=url + "/v1", api_key=CONSUMER_KEY, max_retries=0, timeout=60) for _ in range(16)
    ]
    try:
        limited = await asyncio.gather(*(_chat(acme[i % len(acme)], i) for i in range(chats)))
        credit = await asyncio.gather(*(_stream(consumer[i % len(consumer)], i) for i in range(streams)))
        return list(limited), list(credit)
    finally:
        for client in acme + consumer:
            await client.close()


def test_workers_share_one_rate_limit_one_balance_and_record_every_request_once(
    workers: Workers, replica_env: dict[str, str], pg_database: str, pg_schema: str
) -> None:
    if time.time() % 60 > 50:  # the per-minute window weighs the minute before: keep the burst inside one minute
        time.sleep(61 - time.time() % 60)
    before = {pid: cpu_ticks(pid) for pid in workers.workers()}
    limited, credit = asyncio.run(_bursts(workers.url, 2 * RPM, 150))
    busy = {pid: cpu_ticks(pid) - ticks for pid, ticks in before.items()}
    assert all(ticks > 0 for ticks in busy.values()), f"both workers served: CPU ticks per worker {busy}"
    assert limited.count(200) == RPM and limited.count(429) == RPM, "one per-minute limit across the workers"
    served = [tokens for status, tokens in credit if status == 200]
    assert served and len(served) < len(credit), "the balance covers some of the streams, not all"
    workers.stop()  # each worker settles what it holds and gives its leases back
    verify = subprocess.run(
        [sys.executable, "-m", "tokenops", "ledger", "verify", "--database-url", pg_database],
        env=replica_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    balance, entries, records = asyncio.run(tenant_ledger(pg_database, pg_schema, CONSUMER))
    charges = [e for e in entries if e.kind == "charge"]
    assert 0 <= balance < BALANCE, "the shared prepaid balance never passed its floor"
    assert records == len(credit) and len(charges) == len(served), "one record per request, one charge per served"
    assert sum(sum(e.meta["tokens"]) for e in charges) == sum(served), "tokens served = tokens billed"
    _, _, acme_records = asyncio.run(tenant_ledger(pg_database, pg_schema, "acme-manufacturing"))
    assert acme_records == len(limited), "refusals have their record too"


def test_a_worker_that_dies_is_started_again(workers: Workers) -> None:
    first = workers.workers()
    os.kill(first[1], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not (len(now := workers.workers()) == 2 and first[1] not in now):
        assert time.monotonic() < deadline, f"no new worker in place of {first[1]}: {workers.workers()}"
        time.sleep(0.1)
    assert first[0] in now, "the other worker kept running"
    answers = [
        httpx.post(workers.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {ACME_KEY}"},
                   json={"model": "tele-lite", "messages": [{"role": "user", "content": "ping"}]}, timeout=30)
        for _ in range(4)
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [200] * 4


def test_several_workers_are_refused_on_the_embedded_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENOPS_DATABASE_URL", "TOKENOPS_REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "tokenops", "serve", "--workers", "2", "--home", str(tmp_path), "--port", "1"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "needs the scaled-out stores" in done.stderr and "--database-url" in done.stderr

"""The extraction evaluation, one command: `.venv/bin/python bench/extraction/run.py [--duration 600]`.

Starts `tokenops serve` on the evaluation's catalog (policy: throttle; no rate limits in the way;
simulated models answering up to 320 tokens), drives it over HTTP with the evaluation's own
benign clients and scrapers (`traffic.py`, `scenario.py`) at their own paces for `--duration`
seconds of real time, reads the security events back through the admin API, and writes
bench/results/extraction-eval.md and .json: per kind the detection rate, requests until the first
pushback (429 rate_limit_extraction or 403 key_suspended) and the share of benign keys ever pushed
back; and the defence's CPU per request (`cpu.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import procstat
from bench.extraction import cpu, report, scenario
from bench.extraction.traffic import body

OPERATOR = {"Authorization": "Bearer adm-eval-operator"}
SCRAPER_LIMIT = 160  # requests a single-key scraper (scrape requests a mixed key) sends at most (target: 100)
CAMPAIGN_LIMIT = 320  # ... a campaign over all its keys (target 200)
AFTER_PUSHBACK = 3  # pushbacks a scraper takes on a key before it stops using it


@dataclass
class Outcome:
    sent: int = 0
    scrape_sent: int = 0
    pushback_at: int | None = None  # requests sent (all keys) when the first pushback came
    pushback_scrape_at: int | None = None  # scrape requests sent by then (mixed keys)
    pushbacks: int = 0
    keys_pushed: set[str] = field(default_factory=set)
    all_keys_at: int | None = None  # requests sent when every key had been pushed back
    other_errors: dict[int, int] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _drive(session: aiohttp.ClientSession, url: str, c: scenario.Client, end: float, out: Outcome) -> None:
    await asyncio.sleep(min(c.start_s, max(0.0, end - time.monotonic())))
    if time.monotonic() >= end:
        return
    if c.made_at_start:
        for key in c.keys:
            async with session.post(f"{url}/admin/keys", json={"tenant": c.tenant, "id": key}, headers=OPERATOR) as r:
                c.secrets[key] = (await r.json())["secret"]
    rng = random.Random(c.name)
    limit = CAMPAIGN_LIMIT if c.role == "campaign" else SCRAPER_LIMIT

    pushed: dict[str, int] = {}

    async def one(key: str, gen: Any) -> None:
        while time.monotonic() < end:
            sent = out.scrape_sent if c.role == "mixed" else out.sent
            if c.role != "benign" and (sent >= limit or pushed.get(key, 0) > AFTER_PUSHBACK):
                return  # a scraper gives up on a key refused a few times (a campaign goes on with its others)
            send = next(gen)
            await asyncio.sleep(min(send.wait_s, max(0.0, end - time.monotonic())))
            if time.monotonic() >= end:
                return
            path, data, headers = body(send)
            secret = c.secrets.get(key, f"sk-{key}")
            headers |= {"Authorization": f"Bearer {secret}", "X-Forwarded-For": rng.choice(c.addresses)}
            if send.api == "messages":
                headers["anthropic-version"] = "2023-06-01"
            out.sent += 1
            out.scrape_sent += send.scrape
            try:
                async with session.post(url + path, json=data, headers=headers) as r:
                    status, reply = r.status, await r.read()
            except aiohttp.ClientError:
                out.other_errors[0] = out.other_errors.get(0, 0) + 1
                continue
            if status == 200:
                continue
            # the catalog has no rate limits: a 429 is the defence's (Anthropic's error shape names no code, its
            # message says the key is throttled); a 403 key_suspended is its suspension
            suspended = status == 403 and b"key_suspended" in reply
            refused = suspended or (status == 429 and (b"rate_limit_extraction" in reply or b"throttled" in reply))
            if not refused:
                out.other_errors[status] = out.other_errors.get(status, 0) + 1
                continue
            out.pushbacks += 1
            pushed[key] = pushed.get(key, 0) + 1
            out.keys_pushed.add(key)
            if out.pushback_at is None:
                out.pushback_at, out.pushback_scrape_at = out.sent, out.scrape_sent
            if out.all_keys_at is None and len(out.keys_pushed) == len(c.keys):
                out.all_keys_at = out.sent

    await asyncio.gather(*(one(k, g) for k, g in zip(c.keys, c.gens, strict=True)))


async def _run(
    url: str, clients: list[scenario.Client], duration: float
) -> tuple[dict[str, Outcome], list[dict[str, Any]]]:
    outcomes = {c.name: Outcome() for c in clients}
    end = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(_drive(session, url, c, end, outcomes[c.name]) for c in clients))
        async with session.get(f"{url}/admin/security/events", params={"limit": "10000"}, headers=OPERATOR) as r:
            events = (await r.json())["events"]
    return outcomes, events


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the gateway exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the gateway did not become ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of traffic (default 600)")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--out", default=str(scenario.ROOT / "bench" / "results" / "extraction-eval"))
    args = parser.parse_args(argv)
    cat = scenario.catalog()
    clients = scenario.clients(cat, args.seed)
    with tempfile.TemporaryDirectory(prefix="tokenops-eval-") as home:
        config = Path(home) / "catalog.yaml"
        config.write_text(yaml.safe_dump(cat))
        port = _free_port()
        env = dict(os.environ, TOKENOPS_TRUSTED_PROXIES="127.0.0.1", TOKENOPS_MAX_IN_FLIGHT="100000")
        cmd = [sys.executable, "-m", "tokenops", "serve", "--config", str(config), "--home", home, "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc)
            before = procstat.sample([proc.pid])
            started = time.monotonic()
            outcomes, events = asyncio.run(_run(url, clients, args.duration))
            wall = time.monotonic() - started
            gateway_cpu = procstat.sample([proc.pid]).cpu_s - before.cpu_s
        finally:
            proc.terminate()
            proc.wait(30)
    measured = cpu.measure(args.seed)
    command = " ".join(["bench/extraction/run.py", *(argv if argv is not None else sys.argv[1:])])
    doc = report.build(clients, outcomes, events, wall, gateway_cpu, measured, command)
    Path(args.out + ".json").write_text(json.dumps(doc, indent=1) + "\n")
    Path(args.out + ".md").write_text(report.markdown(doc))
    print(report.markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

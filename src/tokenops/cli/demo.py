"""`tokenops demo traffic`: a realistic mixed day, compressed into a minute, against a running gateway.

Four kinds of client share the gateway, each on the demo catalog's keys: acme's B2B agents
(long sessions whose context grows turn by turn, mostly the cheap model, the hard turns on the
big one), the energy bureau's government batch jobs (bursts on its dedicated industry model),
the consumer app's evening burst (many end users, short questions, some past their per-user
limit) and one scraper (templated, enumerating prompts at speed on a leaked consumer key).
`--record FILE` writes every request as JSONL (tenant, time, body) for the policy simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tokenops.cli.common import default_url

KEYS = {"acme": "sk-demo-acme", "gov": "sk-demo-gov", "consumer": "sk-demo-consumer"}
TENANTS = {"acme": "acme-manufacturing", "gov": "cn-gov-energy", "consumer": "ringback-app"}
AGENT_TURNS = [
    "The MES reports line 3 stopped with error E-4411. Here is the log:\nERROR 2026-11-03T08:14:22Z spindle overload",
    "Check the vibration trend of spindle 7 over the last shift and compare it with the maintenance notes.",
    'Traceback (most recent call last):\n  File "plc_bridge.py", line 88, in poll\nTimeoutError: PLC 10.2.3.7',
    "Propose a fix, write the work order and estimate the downtime for line 3.",
    "Summarise what we found so far for the shift report, keeping every alarm id.",
]
GOV_JOBS = ["Classify this substation fault record: breaker {n} tripped, relay code 51N, feeder load {m} MW.",
            "Extract the outage window and affected districts from dispatch note {n}.",
            "Score the risk of transformer T-{n} given oil temperature {m} C and load factor 0.{m}."]  # fmt: skip
CONSUMER = ["What's a fun ringback tone for my mum?", "Write a two-line birthday greeting.",
            "Suggest a song for rainy days.", "Translate 'see you soon' into Cantonese.",
            "Give me a joke about phones."]  # fmt: skip


@dataclass
class Run:
    url: str
    duration: float
    record: IO[bytes] | None
    started: float = field(default_factory=time.monotonic)
    results: Counter[tuple[str, int]] = field(default_factory=Counter)
    session: aiohttp.ClientSession | None = None

    @property
    def t(self) -> float:
        """How far through the compressed day we are, 0 to 1."""
        return min(1.0, (time.monotonic() - self.started) / self.duration)

    @property
    def over(self) -> bool:
        return self.t >= 1.0

    async def send(self, who: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        if self.record is not None:
            line = {"tenant": TENANTS[key], "client": who, "time": round(time.time(), 3), "api": "chat.completions",
                    "session_id": (headers or {}).get("X-Session-Id"), "body": body}  # fmt: skip
            self.record.write(orjson.dumps(line) + b"\n")
        assert self.session is not None
        hdrs = {"Authorization": f"Bearer {KEYS[key]}", **(headers or {})}
        try:
            async with self.session.post(self.url + "/v1/chat/completions", json=body, headers=hdrs) as resp:
                data = await resp.read()
                self.results[(who, resp.status)] += 1
                if resp.status != 200 or body.get("stream"):
                    return ""
                reply: dict[str, Any] = orjson.loads(data)
                return str(reply["choices"][0]["message"].get("content") or "")
        except (aiohttp.ClientError, TimeoutError):
            self.results[(who, 0)] += 1
            return ""


async def agent(run: Run, n: int) -> None:
    """A B2B agent: sessions of several turns whose context grows; hard turns go to the big model."""
    rng = random.Random(n)
    await asyncio.sleep(rng.uniform(0, 0.08) * run.duration)
    while not run.over:
        session = f"acme-agent-{n}-{int(time.time() * 1000)}"
        messages: list[dict[str, str]] = [{"role": "system", "content": "You are the plant's maintenance agent."}]
        for turn in AGENT_TURNS:
            if run.over:
                return
            messages.append({"role": "user", "content": turn})
            model = "tele-max" if "Propose" in turn or rng.random() < 0.15 else "tele-lite"
            body = {"model": model, "messages": list(messages), "max_tokens": 256, "stream": rng.random() < 0.5}
            reply = await run.send("acme-agent", "acme", body, {"X-Session-Id": session})
            messages.append({"role": "assistant", "content": reply or "(streamed answer)"})
            await asyncio.sleep(rng.uniform(0.2, 0.8))


async def gov_batches(run: Run) -> None:
    """Government batch jobs: bursts of classification work on the dedicated industry model."""
    rng = random.Random(7)
    n = 0
    while not run.over:
        size = 12 if 0.1 < run.t < 0.3 or 0.7 < run.t < 0.8 else 3
        jobs = []
        for _ in range(size):
            n += 1
            text = rng.choice(GOV_JOBS).format(n=n, m=rng.randint(10, 99))
            body = {"model": "grid-fault-expert", "messages": [{"role": "user", "content": text}], "max_tokens": 128}
            jobs.append(run.send("gov-batch", "gov", body))
        await asyncio.gather(*jobs)
        await asyncio.sleep(0.5)


async def consumers(run: Run) -> None:
    """The consumer app: a trickle all day, a burst in the evening (the middle of the run)."""
    rng = random.Random(11)
    pending: set[asyncio.Task[str]] = set()
    while not run.over:
        rate = 40.0 if 0.45 < run.t < 0.65 else 4.0  # requests per second
        user = f"u-{rng.randint(1, 40 if rate > 10 else 400):04d}"  # few heavy users in the burst hit their limit
        body = {"model": "lite", "messages": [{"role": "user", "content": rng.choice(CONSUMER)}], "max_tokens": 64,
                "user": user}  # fmt: skip
        task = asyncio.create_task(run.send("consumer", "consumer", body))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(rng.expovariate(rate))
    await asyncio.gather(*pending)


async def scraper(run: Run) -> None:
    """One scraper on a leaked key: templated prompts enumerating an id, long answers, back to back."""
    while run.t < 0.6:
        await asyncio.sleep(0.2)
    n = 0
    while run.t < 0.9:
        n += 1
        text = f"Write the full answer for exam question #{n} of set B, with worked solution and all steps."
        body = {"model": "lite", "messages": [{"role": "user", "content": text}], "max_tokens": 1024}
        await asyncio.gather(*(run.send("scraper", "consumer", body) for _ in range(2)))


async def traffic(url: str, duration: float, record: IO[bytes] | None, agents: int = 4) -> Run:
    run = Run(url.rstrip("/"), duration, record)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as run.session:
        clients: list[Awaitable[None]] = [agent(run, i) for i in range(agents)]
        clients += [gov_batches(run), consumers(run), scraper(run)]
        await asyncio.gather(*clients, _progress(run))
    return run


async def _progress(run: Run) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[sent]} requests"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("a day of traffic", total=100, sent=0)
        while not run.over:
            bar.update(task, completed=run.t * 100, sent=sum(run.results.values()))
            await asyncio.sleep(0.25)


def cmd_traffic(args: argparse.Namespace) -> int:
    record = open(args.record, "wb") if args.record else None  # noqa: SIM115 (closed below)
    try:
        run = asyncio.run(traffic(args.url, args.duration, record, args.agents))
    finally:
        if record is not None:
            record.close()
    table = Table(title=f"demo traffic against {args.url}")
    for name in ("client", "status", "requests"):
        table.add_column(name, justify="right" if name == "requests" else "left")
    for (who, status), n in sorted(run.results.items()):
        table.add_row(who, str(status or "no answer"), f"{n:,}")
    Console().print(table)
    if args.record:
        print(f"recorded {sum(run.results.values()):,} requests to {Path(args.record)}")
    return 0


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    run: argparse.ArgumentParser = demo_sub.add_parser("traffic", help="a realistic mixed day against a gateway")
    run.add_argument(
        "--url", default=default_url(), help="the gateway (default: $TOKENOPS_URL, else 127.0.0.1:$TOKENOPS_PORT)"
    )
    run.add_argument("--duration", type=float, default=60.0, help="seconds the compressed day lasts")
    run.add_argument("--agents", type=int, default=4, help="concurrent acme agent sessions")
    run.add_argument("--record", help="write every request as JSONL (tenant, time, body) to this file")
    run.set_defaults(func=cmd_traffic)

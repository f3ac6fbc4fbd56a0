"""`tokenops demo traffic`: a realistic mixed day, compressed into a minute or two, against a running gateway.

The clients (`demo_clients`) show every part of the platform on the demo catalog: long agent sessions
compacted to fit, `auto` routed both ways, a session budget's alerts, a prepaid tenant running out and
topped up, a scraper caught by the extraction detectors, and a regulated tenant kept in its region. The
summary says what the gateway's answers showed; the dashboard and `tokenops security events` show the rest.
`--record FILE` writes every request as JSONL (tenant, time, body) for the policy simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import IO, Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tokenops.cli import demo_clients as clients
from tokenops.cli.common import default_url
from tokenops.cli.demo_run import Run

DEMO_ADMIN_TOKEN = "adm-demo-operator"  # the demo catalog's operator token (examples/demo.yaml)


async def traffic(url: str, duration: float, record: IO[bytes] | None, agents: int = 4,
                  admin_token: str = DEMO_ADMIN_TOKEN) -> Run:  # fmt: skip
    run = Run(url.rstrip("/"), duration, record, admin_token)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as run.session:
        jobs: list[Awaitable[None]] = [clients.agent(run, i) for i in range(agents)]
        jobs += [clients.analyst(run), clients.gov_batches(run), clients.consumers(run), clients.scraper(run),
                 clients.tutor(run)]  # fmt: skip
        await asyncio.gather(*jobs, _progress(run))
    return run


async def _progress(run: Run) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[sent]} requests"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("a day of traffic", total=100, sent=0)
        while not run.over:
            bar.update(task, completed=run.t * 100, sent=sum(run.results.values()))
            await asyncio.sleep(0.25)


def summary(run: Run, url: str) -> list[Table]:
    statuses = Table(title=f"demo traffic against {url}")
    for name in ("client", "status", "requests"):
        statuses.add_column(name, justify="right" if name == "requests" else "left")
    for (who, status), n in sorted(run.results.items()):
        statuses.add_row(who, str(status or "no answer"), f"{n:,}")
    shown = Table(title="what the gateway's answers showed")
    for name in ("client", "seen", "times"):
        shown.add_column(name, justify="right" if name == "times" else "left")
    for (who, note), n in sorted(run.notes.items()):
        shown.add_row(who, note, f"{n:,}")
    return [statuses, shown]


def cmd_traffic(args: argparse.Namespace) -> int:
    record = open(args.record, "wb") if args.record else None  # noqa: SIM115 (closed below)
    token = args.admin_token or os.environ.get("TOKENOPS_ADMIN_TOKEN") or DEMO_ADMIN_TOKEN
    try:
        run = asyncio.run(traffic(args.url, args.duration, record, args.agents, token))
    finally:
        if record is not None:
            record.close()
    out = Console()
    for table in summary(run, args.url):
        out.print(table)
    print(f"then: open {args.url}/dashboard (token {DEMO_ADMIN_TOKEN}), or run `tokenops security events` "
          "with TOKENOPS_ADMIN_TOKEN set")  # fmt: skip
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
    run.add_argument("--duration", type=float, default=60.0, help="seconds the compressed day lasts (default 60)")
    run.add_argument("--agents", type=int, default=4, help="concurrent acme agent sessions (default 4)")
    run.add_argument("--record", help="write every request as JSONL (tenant, time, body) to this file")
    run.add_argument("--admin-token", help="operator token for the top-ups (default: $TOKENOPS_ADMIN_TOKEN, "
                     f"else the demo catalog's {DEMO_ADMIN_TOKEN})")  # fmt: skip
    run.set_defaults(func=cmd_traffic)

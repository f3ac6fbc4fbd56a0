"""`tokenops export status | read | rewind`: the usage export's lag, a replay of the stream, a re-publication."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from typing import Any

import orjson

from tokenops.cli.admin import call, show
from tokenops.cli.charging import on_store, report_options
from tokenops.clock import Clock
from tokenops.errors import ConfigError
from tokenops.export import ExportSettings, outbox_for, read_events, relay_for
from tokenops.export.report import status_doc
from tokenops.store import Store

_COLUMNS = ["sink", "position", "head", "lag_events", "lag_seconds", "published", "owner", "error"]


def cmd_status(args: argparse.Namespace) -> int:
    if args.url:
        doc = call(args, "GET", "/admin/export/status")
    else:

        async def work(store: Store) -> dict[str, Any]:
            return status_doc(await outbox_for(store).status(), int(time.time() * 1000))

        doc = on_store(args, work)
    if not doc["sinks"] and not args.json:
        print("no export has run on this store (set TOKENOPS_EXPORT_NATS_URL on the gateway)")
        return 0
    return show(args, doc, doc["sinks"], _COLUMNS, "Usage export")


def cmd_read(args: argparse.Namespace) -> int:
    if not args.nats_url:
        raise ConfigError("name the NATS server: --nats-url or TOKENOPS_EXPORT_NATS_URL")
    for seq, data in asyncio.run(read_events(args.nats_url, args.stream, args.from_seq, args.limit)):
        sys.stdout.write(orjson.dumps({"stream_seq": seq, "event": orjson.loads(data)}).decode() + "\n")
    return 0


def cmd_rewind(args: argparse.Namespace) -> int:
    async def work(store: Store) -> None:
        await outbox_for(store).rewind(f"nats:{args.stream}", args.to)

    on_store(args, work)
    print(f"nats:{args.stream} publishes again from outbox position {args.to} (the stream drops what it still has)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = ExportSettings.from_env()
    if args.nats_url or args.stream:
        settings = replace(settings, nats_url=args.nats_url or settings.nats_url, stream=args.stream or settings.stream)
        settings.check()
    if not settings.enabled:
        raise ConfigError("name the NATS server: --nats-url or TOKENOPS_EXPORT_NATS_URL")

    async def work(store: Store) -> None:
        clock = Clock()
        await clock.sync(store.clock_ms)  # leases are compared with the gateways', on the database's clock
        relay = relay_for(settings, store, clock.now_ms)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        relay.start()
        print(f"publishing the outbox to {settings.nats_url} stream {settings.stream} (SIGTERM stops)", flush=True)
        await stop.wait()
        await relay.stop()
        print(f"stopped after {relay.published} events", flush=True)

    on_store(args, work)
    return 0


def add_parser(sub: Any) -> None:
    export = sub.add_parser("export")
    verbs = export.add_subparsers(dest="export_command", required=True)
    status = verbs.add_parser("status", help="each sink's outbox position, the newest position and the lag")
    report_options(status, formats=False)
    status.set_defaults(func=cmd_status)

    read = verbs.add_parser("read", help="replay the stream from a sequence number, one event per line (JSON)")
    read.add_argument("--nats-url", default=os.environ.get("TOKENOPS_EXPORT_NATS_URL"),
                      help="default: $TOKENOPS_EXPORT_NATS_URL")  # fmt: skip
    read.add_argument("--stream", default=os.environ.get("TOKENOPS_EXPORT_STREAM", "TOKENOPS"),
                      help="default: $TOKENOPS_EXPORT_STREAM, else TOKENOPS")  # fmt: skip
    read.add_argument("--from-seq", type=int, default=1, help="the stream sequence to start at (default 1)")
    read.add_argument("--limit", type=int, default=1000, help="events at most (default 1000)")
    read.set_defaults(func=cmd_read)

    run = verbs.add_parser(
        "run", help="publish the outbox in a process of its own (gateways then set TOKENOPS_EXPORT_IN_GATEWAY=0)"
    )
    run.add_argument("--nats-url", help="default: $TOKENOPS_EXPORT_NATS_URL")
    run.add_argument("--stream", help="default: $TOKENOPS_EXPORT_STREAM, else TOKENOPS")
    report_options(run, formats=False)
    run.set_defaults(func=cmd_run)

    rewind = verbs.add_parser("rewind", help="publish again from an outbox position (store access needed)")
    rewind.add_argument("--to", type=int, required=True, help="the outbox position to publish after")
    rewind.add_argument("--stream", default=os.environ.get("TOKENOPS_EXPORT_STREAM", "TOKENOPS"),
                        help="the sink's stream (default: $TOKENOPS_EXPORT_STREAM, else TOKENOPS)")  # fmt: skip
    report_options(rewind, formats=False)
    rewind.set_defaults(func=cmd_rewind)

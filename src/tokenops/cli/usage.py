"""`tokenops usage`: tokens per tenant and model, read from the store (embedded, or PostgreSQL)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from rich.table import Table

from tokenops.cli.common import console, store_options
from tokenops.cli.stores import read_store
from tokenops.errors import ConfigError
from tokenops.store import Store


def _since(value: str | None) -> int | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since: not an ISO date or time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


async def _summary(store: Store, since: int | None, tenant: str | None) -> list[dict[str, Any]]:
    """Usage per tenant and served model; what no model served (refused before routing) is listed by the name
    asked for, marked as such, so an alias never reads as a model."""
    models = (await store.load_catalog()).models
    rows = await store.usage_summary(since, None, tenant)
    for row in rows:
        if row["model"] not in models:
            row["model"] = f"none (asked for {row['model']})"
    return rows


def cmd_usage(args: argparse.Namespace) -> int:
    since = _since(args.since)
    rows = read_store(args, lambda store: _summary(store, since, args.tenant))
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not rows:
        print(
            "no usage recorded"
            + (f" since {args.since}" if args.since else "")
            + (f" for {args.tenant}" if args.tenant else "")
        )
        return 0
    table = Table(title="Usage per tenant and model")
    for name, justify in (
        ("tenant", "left"),
        ("model", "left"),
        ("requests", "right"),
        ("input_tokens", "right"),
        ("output_tokens", "right"),
        ("cached_tokens", "right"),
        ("refused", "right"),
        ("errors", "right"),
    ):
        table.add_column(name.replace("_", " "), justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    console().print(table)
    return 0


def add_parser(sub: Any) -> None:
    usage = sub.add_parser("usage")
    usage.add_argument("--json", action="store_true", help="print JSON instead of a table")
    usage.add_argument("--tenant", help="only this tenant")
    usage.add_argument("--since", help="ISO date or time (UTC)")
    store_options(usage)
    usage.set_defaults(func=cmd_usage)

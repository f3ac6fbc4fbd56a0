"""`tokenops sla report`: a tenant's service levels for a month against its class's objectives."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.table import Table

from tokenops.cli.common import console, store_options, this_month
from tokenops.cli.stores import read_store
from tokenops.errors import ConfigError
from tokenops.periods import month_bounds
from tokenops.store import Store
from tokenops.telemetry.sla import report


async def _report(store: Store, tenant: str, period: str) -> dict[str, Any]:
    catalog = await store.load_catalog()
    found = catalog.tenants.get(tenant)
    if found is None:
        known = sorted(catalog.tenants)
        more = f" and {len(known) - 10:,} more" if len(known) > 10 else ""
        raise ConfigError(f"no tenant {tenant!r} (known: {', '.join(known[:10])}{more})")
    since, until = month_bounds(period)
    return report(tenant, found.kind, period, await store.usage_records(tenant, since, until))


def _show(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.3f} %" if metric == "availability" else f"{value:,.0f} ms"


def cmd_report(args: argparse.Namespace) -> int:
    doc = read_store(args, lambda store: _report(store, args.tenant, args.period))
    if args.json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    out = console()
    title = f"SLA of {doc['tenant']} ({doc['kind']}) for {doc['period']}: {doc['requests']:,} requests"
    table = Table(title=title)
    for name in ("objective", "target", "achieved", "status"):
        table.add_column(name)
    for metric, target in doc["objectives"].items():
        value = doc["figures"][metric]
        missed = any(b["metric"] == metric and b["window"] == doc["period"] for b in doc["breaches"])
        status = "[red]BREACH[/red]" if missed else ("[green]met[/green]" if value is not None else "no data")
        table.add_row(metric.replace("_", " "), _show(metric, target), _show(metric, value), status)
    out.print(table)
    if doc["breaches"]:
        listing = Table(title="Breaches")
        for name in ("window", "objective", "target", "achieved"):
            listing.add_column(name)
        for b in doc["breaches"]:
            listing.add_row(b["window"], b["metric"].replace("_", " "), _show(b["metric"], b["objective"]),
                            _show(b["metric"], b["value"]))  # fmt: skip
        out.print(listing)
    elif doc["requests"] == 0:
        out.print(f"no requests in {doc['period']}, so nothing to judge (try another --period)")
    else:
        out.print("every objective met")
    return 0


def add_parser(sub: Any) -> None:
    sla = sub.add_parser("sla")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True)
    rep: argparse.ArgumentParser = sla_sub.add_parser("report", help="a tenant's SLA for a month, with breaches")
    rep.add_argument("--tenant", required=True, help="the tenant to report on")
    rep.add_argument("--period", default=this_month(), help="YYYY-MM, UTC (default: the current month)")
    rep.add_argument("--json", action="store_true", help="print JSON instead of a table")
    store_options(rep)
    rep.set_defaults(func=cmd_report)

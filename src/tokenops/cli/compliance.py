"""`tokenops compliance report`: where a tenant's requests were served, from the usage records."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.table import Table

from tokenops.catalog import Catalog
from tokenops.cli.common import console, store_options, this_month
from tokenops.cli.stores import read_store
from tokenops.compliance import ComplianceReport, build_report
from tokenops.errors import ConfigError
from tokenops.periods import month_bounds
from tokenops.store import Store, UsageRecord


def add_parser(sub: Any) -> None:
    compliance = sub.add_parser("compliance")
    inner = compliance.add_subparsers(dest="compliance_command", required=True)
    report = inner.add_parser("report", help="requests per region, pool and deployment; violations listed")
    report.add_argument("--tenant", required=True, help="the tenant to report on")
    report.add_argument("--period", default=this_month(), help="YYYY-MM, UTC (default: the current month)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    store_options(report)
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    start, end = month_bounds(args.period)

    async def load(store: Store) -> tuple[Catalog, list[UsageRecord]]:
        return await store.load_catalog(), await store.usage_records(args.tenant, start, end)

    catalog, records = read_store(args, load)
    if args.tenant not in catalog.tenants:
        raise ConfigError(f"--tenant: unknown tenant {args.tenant!r}")
    report = build_report(catalog, args.tenant, args.period, records)
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(report)
    return 0 if report.compliant else 1


def _print(report: ComplianceReport) -> None:
    out = console()
    data = report.to_dict()
    out.print(f"[bold]Compliance report[/bold] — tenant {report.tenant}, period {report.period} (UTC)")
    out.print(f"Residency: {', '.join(report.residency)}; isolation: {report.isolation}")
    out.print(f"Content: {data['content_policy']['statement']}")
    out.print(f"Requests: {report.requests:,} ({report.served:,} served by a deployment)")
    table = Table(title="Served per deployment")
    for name in ("deployment", "region", "pool", "owner", "requests", "input_tokens", "output_tokens"):
        table.add_column(name.replace("_", " "), justify="right" if name.endswith(("s", "tokens")) else "left")
    for row in report.by_deployment:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v or "-") for v in row.values()))
    out.print(table)
    out.print(f"Out-of-residency requests: {len(report.out_of_residency)}")
    for item in report.out_of_residency:
        out.print(f"  [red]{item['request_id']}[/red] served in {item['region']} by {item['deployment']}")
    out.print(f"Cross-pool requests: {len(report.cross_pool)}")
    for item in report.cross_pool:
        out.print(f"  [red]{item['request_id']}[/red] on {item['deployment']}: {item['reason']}")
    if report.requests == 0:
        out.print(f"Verdict: no requests in {report.period}, so nothing to judge (try another --period)")
        return
    verdict = "[green]COMPLIANT[/green]" if report.compliant else "[red]NOT COMPLIANT[/red]"
    out.print(f"Verdict: {verdict}")

"""`tokenops policy simulate`: a candidate routing policy on recorded traffic, beside the policy in force.

Exits 1 when the candidate breaks a hard constraint (residency, isolation), refuses
traffic the policy in force serves (unless allowed), or raises cost past --max-cost-increase.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from tokenops.catalog import load_catalog
from tokenops.charging.catalog import config_from_docs
from tokenops.charging.service import ChargingService
from tokenops.cli.charging import run_on_store
from tokenops.cli.common import console
from tokenops.errors import ConfigError
from tokenops.policy import Policy, Report, attach_usage, from_records, load_jsonl, policy_of_spec, simulate
from tokenops.policy.side import policy_of_store
from tokenops.routing import ComplexityRouter
from tokenops.routing.curves import Curves
from tokenops.store import Store, UsageRecord

DEMO_CATALOG = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"


def add_parser(sub: Any) -> None:
    policy = sub.add_parser("policy")
    inner = policy.add_subparsers(dest="policy_command", required=True)
    sim: argparse.ArgumentParser = inner.add_parser("simulate", help="replay recorded traffic through a candidate")
    sim.add_argument("--traffic", help="JSONL of recorded requests (tenant, time, body); default: the store's usage")
    sim.add_argument("--catalog", required=True, help="the candidate catalog (YAML)")
    sim.add_argument("--baseline", help="the catalog in force (YAML; default: the store's with --home, else the demo)")
    sim.add_argument("--home", help="the store: policy in force, balances and usage records for output tokens")
    sim.add_argument("--database-url", help="the store on PostgreSQL instead (as --home)")
    sim.add_argument("--max-cost-increase", type=float, help="fail when projected cost rises more (percent)")
    sim.add_argument("--allow-refusals", action="store_true", help="pass even if the candidate refuses more")
    sim.add_argument("--days", type=float, help="days of demand the traffic stands for (default: its time span)")
    sim.add_argument("--router", help="the complexity router model (default: the one shipped with tokenops)")
    sim.add_argument(
        "--routing-curve",
        help="cost-quality curves from `tokenops routing evaluate --out`: expected quality per kind of prompt",
    )
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sim.set_defaults(func=cmd_simulate)


def _from_store(args: argparse.Namespace) -> tuple[Policy, list[UsageRecord]]:
    def load(store: Store, charging: ChargingService) -> Awaitable[tuple[Policy, list[UsageRecord]]]:
        async def work() -> tuple[Policy, list[UsageRecord]]:
            config = config_from_docs(await charging.store.config_docs())
            catalog = await store.load_catalog()
            policy = policy_of_store("in force", catalog, config, await charging.store.accounts())
            return policy, await store.usage_records()

        return work()

    return run_on_store(args, load)


def cmd_simulate(args: argparse.Namespace) -> int:
    candidate = policy_of_spec("candidate", load_catalog(args.catalog))
    records: list[UsageRecord] = []
    stored = None
    if args.home or args.database_url:
        stored, records = _from_store(args)
    if args.baseline:
        baseline = policy_of_spec("in force", load_catalog(args.baseline))
    else:
        baseline = stored or policy_of_spec("in force", load_catalog(DEMO_CATALOG))
    if stored is not None:  # balances are facts of the store, whichever policy would spend them
        baseline, candidate = baseline.with_wallets(stored.wallets), candidate.with_wallets(stored.wallets)
    if args.traffic:
        requests = load_jsonl(args.traffic)
        attach_usage(requests, records, baseline.catalog)
    elif records:
        requests = from_records(records)
    else:
        raise ConfigError("--traffic: give a recorded traffic file, or --home with usage records")
    report = simulate(
        requests,
        baseline,
        candidate,
        ComplexityRouter.load(Path(args.router)) if args.router else ComplexityRouter.load_default(),
        period_days=args.days,
        max_cost_increase=args.max_cost_increase,
        allow_refusals=args.allow_refusals,
        curves=Curves.load(Path(args.routing_curve)) if args.routing_curve else None,
    )
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(report)
    return 0 if report.passed else 1


def _mix(mix: dict[str, float]) -> str:
    return ", ".join(f"{m} {share:.0%}" for m, share in mix.items()) or "-"


def _print(report: Report) -> None:
    out = console()
    data = report.to_dict()
    sources = ", ".join(f"{n:,} {s}" for s, n in data["output_tokens_from"].items())
    out.print(f"[bold]Policy simulation[/bold] — {data['period_days']:g} day(s) of traffic; output tokens: {sources}")
    table = Table(title=f"In force vs candidate ({report.currency})")
    for name in ("tenant", "side", "requests", "refused", "cost", "revenue", "margin", "quality", "violations"):
        table.add_column(name, justify="left" if name in ("tenant", "side") else "right")
    table.add_column("model mix")
    for tenant, sides in data["tenants"].items():
        for side, row in sides.items():
            q = row["expected_quality"]
            table.add_row(
                tenant if side == "baseline" else "",
                "in force" if side == "baseline" else "candidate",
                f"{row['requests']:,}",
                f"{row['refused']:,}",
                row["cost_exact"],
                row["revenue"],
                row["margin_exact"] + (f" ({row['margin_pct']}%)" if row["margin_pct"] is not None else ""),
                "-" if q is None else f"{q:.1%} of {row['quality_requests']:,}",
                f"[red]{row['violations']:,}[/red]" if row["violations"] else "0",
                _mix(row["model_mix"]),
                end_section=side == "candidate",
            )
    out.print(table)
    total = data["tenants"]["(total)"]["candidate"]
    if total["revenue"] != total["revenue_unrounded"]:
        out.print(
            f"Revenue is as billed, each charge rated to a millionth of the unit and shown rounded to the minor "
            f"unit; before any rounding the candidate's "
            f"would be {total['revenue_unrounded']} {report.currency}."
        )
    burn = Table(title="Balance and budget exhaustion (from the end of the traffic)")
    for name in ("tenant", "account", "in force", "candidate"):
        burn.add_column(name)
    for before, after in zip(data["exhaustion"]["baseline"], data["exhaustion"]["candidate"], strict=False):
        burn.add_row(before["tenant"], before["account"], before["date"] or before["note"] or "-",
                     after["date"] or after["note"] or "-")  # fmt: skip
    out.print(burn)
    for finding in report.findings:
        out.print(f"[red]finding[/red]: {finding}")
    for breach, n in report.candidate["(total)"].breaches.most_common():
        out.print(f"[red]violation[/red]: {n:,} requests could run on {breach}")
    for check in data["checks"]:
        mark = "[green]pass[/green]" if check["passed"] else "[red]FAIL[/red]"
        out.print(f"{mark} {check['check']}: {check['detail']}")
    out.print("Verdict: " + ("[green]PASS[/green]" if report.passed else "[red]REJECTED[/red]"))

"""`tokenops invoice | ledger verify | topup | package grant | report margin`: charging from the command line.

Each command opens the embedded store and goes through the charging service, so the
same idempotency, floor and chaining rules hold as on the request path.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import orjson
from rich.console import Console
from rich.table import Table

from tokenops.charging.catalog import to_ms
from tokenops.charging.invoice import Invoice, build_invoice, margin_rows, month_bounds
from tokenops.charging.ledger import FloorBreached, LedgerConflict
from tokenops.charging.money import format_amount, parse_amount
from tokenops.charging.service import ChargingService
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.verify import verify_ledger
from tokenops.errors import ConfigError
from tokenops.store import SQLiteStore

T = TypeVar("T")


def _run(args: argparse.Namespace, work: Callable[[SQLiteStore, ChargingService], Awaitable[T]]) -> T:
    path = Path(args.home or os.environ.get("TOKENOPS_HOME") or ".tokenops") / "tokenops.db"
    if not path.exists():
        raise ConfigError(f"no store at {path}: start the gateway first, or pass --home")

    async def run() -> T:
        store = SQLiteStore(path)
        await store.open()
        try:
            service = ChargingService(ChargingSQLite(store))
            await service.start(None)
            return await work(store, service)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (LedgerConflict, FloorBreached) as exc:
        raise ConfigError(str(exc)) from None


def _table(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for name in rows[0] if rows else ():
        table.add_column(name.replace("_", " "), justify="left" if name in ("model", "version", "tenant") else "right")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    Console().print(table)


def _emit(args: argparse.Namespace, title: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    if args.json:
        sys.stdout.write(orjson.dumps({**extra, "rows": rows}, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    elif args.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["total"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        writer.writerow({next(iter(writer.fieldnames)): "total", **{k: v for k, v in extra.items() if k == "total"}})
        sys.stdout.write(out.getvalue())
    else:
        _table(title, rows)
        print("  ".join(f"{k}: {v}" for k, v in extra.items()))


def _invoice_rows(inv: Invoice) -> list[dict[str, Any]]:
    rows = [{**asdict(line), "amount": format_amount(line.amount, inv.currency)} for line in inv.lines]
    for p in inv.packages:
        rows.append({"model": f"package {p['package']}", "version": p["grant"], "requests": 0, "input_tokens": 0,
                     "cached_tokens": 0, "output_tokens": 0, "package_tokens": p["tokens"],
                     "amount": format_amount(p["amount"], inv.currency)})  # fmt: skip
    return rows


def cmd_invoice(args: argparse.Namespace) -> int:
    async def work(store: SQLiteStore, svc: ChargingService) -> Invoice:
        entries = await svc.store.entries(args.tenant)
        return build_invoice(entries, args.tenant, args.period, svc.config.currency, svc.config.tax_rate)

    inv = _run(args, work)
    fmt = inv.currency
    extra = {
        "tenant": inv.tenant, "period": inv.period, "currency": fmt, "subtotal": format_amount(inv.subtotal, fmt),
        "tax_rate": str(inv.tax_rate), "tax": format_amount(inv.tax, fmt), "total": format_amount(inv.total, fmt),
    }  # fmt: skip
    _emit(args, f"Invoice {inv.tenant} {inv.period}", _invoice_rows(inv), extra)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    async def work(store: SQLiteStore, svc: ChargingService) -> list[str]:
        catalog = await store.load_catalog()
        sectors = {t.id: t.sector for t in catalog.tenants.values()}
        now = int(time.time() * 1000)
        return [
            str(p) for p in await verify_ledger(svc.store, await store.usage_records(), sectors, now, args.grace_ms)
        ]

    problems = _run(args, work)
    for problem in problems:
        print(problem)
    print(f"ledger verify: {'FAILED, ' + str(len(problems)) + ' problems' if problems else 'ok'}")
    return 1 if problems else 0


def cmd_topup(args: argparse.Namespace) -> int:
    async def work(store: SQLiteStore, svc: ChargingService) -> bool:
        amount = parse_amount(args.amount, svc.config.currency, "--amount")
        return await svc.topup(args.account, amount, args.key, kind=args.kind, note=args.note or "")

    print("recorded" if _run(args, work) else "already recorded (same key, same entry)")
    return 0


def cmd_package_grant(args: argparse.Namespace) -> int:
    async def work(store: SQLiteStore, svc: ChargingService) -> bool:
        starts = to_ms(args.starts, "--starts") if args.starts else None
        return await svc.grant_package(args.account, args.package, args.key, starts)

    print("granted" if _run(args, work) else "already granted (same key, same grant)")
    return 0


def cmd_margin(args: argparse.Namespace) -> int:
    async def work(store: SQLiteStore, svc: ChargingService) -> tuple[str, list[dict[str, Any]]]:
        since, until = month_bounds(args.period) if args.period else (0, 2**62)
        rows = margin_rows(await svc.store.entries(), await store.usage_records(), await store.load_catalog(),
                           svc.config.currency, since, until)  # fmt: skip
        return svc.config.currency, rows

    currency, rows = _run(args, work)
    shown = [{**r, **{k: format_amount(r[k], currency) for k in ("revenue", "upstream_cost", "margin")}} for r in rows]
    _emit(args, "Revenue and margin per tenant, sector and model", shown, {"currency": currency})
    return 0


def _common(p: argparse.ArgumentParser, formats: bool = False) -> None:
    p.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    if formats:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--json", action="store_true")
        group.add_argument("--csv", action="store_true")


def add_parser(sub: Any) -> None:
    inv = sub.add_parser("invoice", help="a tenant's invoice for a calendar month (UTC)")
    inv.add_argument("--tenant", required=True)
    inv.add_argument("--period", required=True, help="YYYY-MM")
    _common(inv, formats=True)
    inv.set_defaults(func=cmd_invoice)

    ledger = sub.add_parser("ledger", help="the money ledger").add_subparsers(dest="ledger_command", required=True)
    verify = ledger.add_parser("verify", help="check the ledger's invariants; exit 1 listing what fails")
    verify.add_argument("--grace-ms", type=int, default=60_000, help="how long past expiry a reservation may stay")
    _common(verify)
    verify.set_defaults(func=cmd_verify)

    topup = sub.add_parser("topup", help="credit an account once per idempotency key")
    topup.add_argument("account")
    topup.add_argument("amount", help="major units, e.g. 100.00")
    topup.add_argument("--key", required=True, help="idempotency key, e.g. the payment id")
    topup.add_argument("--kind", choices=("topup", "refund", "adjustment"), default="topup")
    topup.add_argument("--note")
    _common(topup)
    topup.set_defaults(func=cmd_topup)

    package = sub.add_parser("package", help="token packages").add_subparsers(dest="package_command", required=True)
    grant = package.add_parser("grant", help="grant a package to an account (its price is debited)")
    grant.add_argument("account")
    grant.add_argument("package")
    grant.add_argument("--key", required=True, help="idempotency key, e.g. the order id")
    grant.add_argument("--starts", help="ISO date or time (UTC); default now")
    _common(grant)
    grant.set_defaults(func=cmd_package_grant)

    report = sub.add_parser("report", help="reports").add_subparsers(dest="report_command", required=True)
    margin = report.add_parser("margin", help="revenue, upstream cost and margin per tenant, sector and model")
    margin.add_argument("--period", help="YYYY-MM (default: all time)")
    _common(margin, formats=True)
    margin.set_defaults(func=cmd_margin)

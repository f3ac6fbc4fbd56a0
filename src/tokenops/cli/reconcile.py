"""`tokenops reconcile`: tokens served against charged, charges against re-rated usage, invoices against charges."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from tokenops.charging.invoice import month_bounds
from tokenops.charging.reconcile import reconcile
from tokenops.charging.service import ChargingService
from tokenops.cli.admin import call
from tokenops.cli.charging import report_options, run_on_store, sectors_of
from tokenops.cli.common import console, this_month
from tokenops.store import Store


def cmd_reconcile(args: argparse.Namespace) -> int:
    month_bounds(args.period)  # a bad period is said here, before any store is opened
    with console().status(f"reconciling {args.period}: usage records, charges, invoices…"):
        if args.url:
            query = {"period": args.period, **({"tenant": args.tenant} if args.tenant else {})}
            doc = call(args, "GET", "/admin/reconcile", query=query)
        else:

            async def work(store: Store, svc: ChargingService) -> dict[str, Any]:
                records = await store.usage_records(args.tenant)
                found = await reconcile(svc.store, records, await sectors_of(store), args.period, args.tenant)
                return found.to_doc()

            doc = run_on_store(args, work)
    if args.json:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
    else:
        for d in doc["differences"]:
            print(f"{d['check']}: {d['tenant']} {d['hour']}: {d['detail']}")
        print(f"reconciled {doc['summary']}")
        count = len(doc["differences"])
        print(f"reconcile {doc['period']}: {f'{count} differences' if count else 'no differences'}")
    return 1 if doc["differences"] else 0


def add_parser(sub: Any) -> None:
    rec = sub.add_parser("reconcile")
    rec.add_argument("--period", default=this_month(), help="YYYY-MM, UTC (default: the current month)")
    rec.add_argument("--tenant", help="only this tenant (default: every tenant with an account)")
    report_options(rec, formats=False)
    rec.set_defaults(func=cmd_reconcile)

"""`tokenops reconcile`: tokens served against charged, charges against re-rated usage, invoices against charges."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from tokenops.charging.invoice import month_bounds
from tokenops.charging.reconcile import reconcile_tenants
from tokenops.charging.service import ChargingService
from tokenops.cli.admin import call
from tokenops.cli.charging import report_options, run_on_store, sectors_of
from tokenops.cli.common import console, this_month
from tokenops.store import Store, UsageRecord


def cmd_reconcile(args: argparse.Namespace) -> int:
    month_bounds(args.period)  # a bad period is said here, before any store is opened
    with console().status(f"reconciling {args.period}: usage records, charges, invoices…"):
        if args.url:
            doc = _through_api(args)
        else:

            async def work(store: Store, svc: ChargingService) -> dict[str, Any]:
                tenants = [args.tenant] if args.tenant else sorted(svc.credit.accounts)

                async def records_of(t: str, since_ms: int, until_ms: int) -> list[UsageRecord]:
                    return await store.usage_records(t, since_ms, until_ms)

                found = await reconcile_tenants(svc.store, records_of, await sectors_of(store), args.period, tenants)
                return {**found.to_doc(), "next": None}

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


def _through_api(args: argparse.Namespace) -> dict[str, Any]:
    """Every page the gateway answers, as one: the differences of all, the first page's totals if there is one page."""
    query = {"period": args.period, **({"tenant": args.tenant} if args.tenant else {})}
    doc: dict[str, Any] = call(args, "GET", "/admin/reconcile", query=query)
    pages = [doc]
    while pages[-1].get("next"):
        pages.append(call(args, "GET", "/admin/reconcile", query={**query, "after": pages[-1]["next"]}))
    if len(pages) > 1:
        sums = {k: sum(p[k] for p in pages) for k in ("tenant_hours", "tokens_served", "tokens_charged")}
        doc = {"ok": all(p["ok"] for p in pages), "period": args.period, "next": None, **sums,
               "summary": "; ".join(p["summary"] for p in pages),
               "differences": [d for p in pages for d in p["differences"]]}  # fmt: skip
    return doc


def add_parser(sub: Any) -> None:
    rec = sub.add_parser("reconcile")
    rec.add_argument("--period", default=this_month(), help="YYYY-MM, UTC (default: the current month)")
    rec.add_argument("--tenant", help="only this tenant (default: every tenant with an account)")
    report_options(rec, formats=False)
    rec.set_defaults(func=cmd_reconcile)

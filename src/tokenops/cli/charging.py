"""`tokenops topup | package | invoice | ledger | report margin`: charging from the command line.

Changes (top-ups, package grants) go through a running gateway's admin API, so they are
audited and reach every replica. Read-only reports (invoice, ledger verify, margin) read
the store (the embedded one with --home, PostgreSQL with --database-url), or ask a gateway
with --url. `--home` on a change is the offline mode for a stopped gateway: it writes the
store directly and is not audited.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import asyncpg
import orjson
from rich.table import Table

from tokenops.assembly import store_and_ledger
from tokenops.charging.catalog import to_ms
from tokenops.charging.documents import invoice_doc, problem_doc, rows_csv
from tokenops.charging.incremental import DEFAULT_LIMIT, verification_doc, verify_full, verify_incremental
from tokenops.charging.invoice import margin_rows, month_bounds
from tokenops.charging.invoicing import invoice_of, invoices
from tokenops.charging.ledger import FloorBreached, LedgerConflict
from tokenops.charging.money import format_exact, format_minor, parse_amount, to_minor
from tokenops.charging.service import ChargingService, operator_key
from tokenops.charging.store import ChargingStore
from tokenops.cli.admin import api_options, call, show
from tokenops.cli.common import console, home_of, this_month
from tokenops.cli.stores import backing_of
from tokenops.errors import ConfigError
from tokenops.store import Store

T = TypeVar("T")


def _open(args: argparse.Namespace) -> tuple[Store, ChargingStore]:
    """The store a command reads (see `backing_of`) and the ledger beside it."""
    return store_and_ledger(backing_of(args), home_of(args))


def on_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run `work` on the store a command reads (`--home` or `--database-url`), without loading the ledger."""
    return asyncio.run(_opened(_open(args)[0], work))


async def _opened(store: Store, work: Callable[[Store], Awaitable[T]]) -> T:
    try:
        await store.open()
    except (OSError, asyncpg.PostgresError) as exc:
        raise ConfigError(f"the database is unreachable: {exc}") from None
    try:
        return await work(store)
    finally:
        await store.close()


def run_on_store(args: argparse.Namespace, work: Callable[[Store, ChargingService], Awaitable[T]]) -> T:
    store, ledger = _open(args)

    async def with_service(opened: Store) -> T:
        service = ChargingService(ledger)
        await service.start(None)
        return await work(opened, service)

    try:
        return asyncio.run(_opened(store, with_service))
    except (LedgerConflict, FloorBreached) as exc:
        raise ConfigError(str(exc)) from None


async def sectors_of(store: Store) -> dict[str, str]:
    """Each tenant's sector, from the catalog in the store (what rating applies the sector multiplier by)."""
    catalog = await store.load_catalog()
    return {t.id: t.sector for t in catalog.tenants.values()}


def table(title: str, rows: list[dict[str, Any]]) -> None:
    """Rows as a table for people: numbers right-aligned with thousands separators."""
    out = Table(title=title)
    for name in rows[0] if rows else ():
        numeric = isinstance(rows[0][name], int) or name in ("amount", "balance", "revenue", "margin", "upstream_cost")
        out.add_column(name.replace("_", " "), justify="right" if numeric else "left")
    for row in rows:
        out.add_row(*(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in row.values()))
    console().print(out)


def _emit(args: argparse.Namespace, title: str, doc: dict[str, Any]) -> None:
    rows = doc["rows"]
    if args.json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    elif getattr(args, "csv", False):
        sys.stdout.write(rows_csv(rows, doc.get("total")))
    else:
        if rows:
            table(title, rows)
        else:
            print(f"{title}: nothing was used or charged in this period, so there is nothing to list")
        if doc.get("allowances"):
            table("Plan allowances this month (tokens)", doc["allowances"])
        print("  ".join(f"{k}: {v}" for k, v in doc.items() if k not in ("rows", "allowances")))


def cmd_invoice_all(args: argparse.Namespace) -> int:
    """Every account's invoice for the period, as JSON lines (stdout or --out), with progress on stderr."""
    month_bounds(args.period)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 (closed below)

    async def work(store: Store, svc: ChargingService) -> tuple[int, int, str]:
        tenants, done, total, started = sorted(svc.credit.accounts), 0, 0, time.monotonic()
        async for inv in invoices(svc.store, tenants, args.period, svc.config.currency, svc.config.tax_rate):
            out.write(orjson.dumps(invoice_doc(inv)).decode() + "\n")
            done, total = done + 1, total + inv.total
            if done % 1000 == 0 or done == len(tenants):
                rate = done / max(time.monotonic() - started, 1e-9)
                print(f"invoiced {done:,} of {len(tenants):,} accounts ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        return done, total, svc.config.currency

    try:
        done, total, currency = run_on_store(args, work)
    finally:
        if args.out:
            out.close()
    print(f"{done:,} invoices for {args.period}, {format_minor(total, currency)} {currency} in all", file=sys.stderr)
    return 0


def cmd_invoice(args: argparse.Namespace) -> int:
    if args.all:
        return cmd_invoice_all(args)
    if not args.tenant:
        raise ConfigError("name the tenant (--tenant T), or invoice every account with --all")
    if args.url:
        month_bounds(args.period)  # a bad period is said here, not by the gateway
        path = f"/admin/accounts/{quote(args.tenant, safe='')}/invoices/{quote(args.period, safe='')}"
        doc = call(args, "GET", path)
    else:

        async def work(store: Store, svc: ChargingService) -> dict[str, Any]:
            inv = await invoice_of(svc.store, args.tenant, args.period, svc.config.currency, svc.config.tax_rate)
            return invoice_doc(inv)

        doc = run_on_store(args, work)
    _emit(args, f"Invoice {doc['tenant']} {doc['period']}", doc)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    what = "the whole ledger" if args.full else "what is new since the last checkpoint"
    with console().status(f"verifying {what}: hash chains, balances, rated usage, reservations…"):
        if args.url:
            if args.full:
                raise ConfigError("--full reads the whole ledger: run it on the store (--home or --database-url)")
            doc = call(args, "GET", "/admin/ledger/verify", query={"grace_ms": args.grace_ms, "limit": args.limit})
        else:

            async def work(store: Store, svc: ChargingService) -> dict[str, Any]:
                now = await store.clock_ms() or int(time.time() * 1000)  # scaled out, the database's clock
                sectors = await sectors_of(store)
                if args.full:
                    found = await verify_full(svc.store, await store.usage_records(), sectors, now, args.grace_ms)
                else:
                    found = await verify_incremental(svc.store, sectors, now, args.grace_ms, args.limit)
                problems = [problem_doc(p) for p in found.problems]
                checked = {"checked": found.checked(), "summary": found.summary(), **verification_doc(found)}
                return {"ok": not problems, **checked, "problems": problems}

            doc = run_on_store(args, work)
    problems = doc["problems"]
    if args.json:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
    else:
        for p in problems:
            print(f"{p['check']}: {p['subject']}: {p['detail']}")
        print(f"checked ({doc.get('mode', 'full')}) {doc['summary']}")
        if doc.get("complete") is False:
            print("more is left since the checkpoint: run it again to go on")
        print(f"ledger verify: {'FAILED, ' + str(len(problems)) + ' problems' if problems else 'ok'}")
    return 1 if problems else 0


def cmd_entries(args: argparse.Namespace) -> int:
    data = call(args, "GET", f"/admin/accounts/{quote(args.tenant, safe='')}/entries", query={"limit": args.limit})
    columns = ["seq", "created", "kind", "amount", "idempotency_key", "request_id"]
    return show(args, data, data["entries"], columns, f"Ledger of {args.tenant}")


def _changed(args: argparse.Namespace, data: dict[str, Any], done: str, again: str) -> int:
    if args.json:
        return show(args, data, [], [], "")
    account = data["account"]
    print(again if data["replayed"] else done)
    print(f"{account['tenant']}: balance {account['balance']} {account['currency']}, available {account['available']}, "
          f"package tokens {account['package_tokens_remaining']:,}")  # fmt: skip
    return 0


def cmd_topup(args: argparse.Namespace) -> int:
    done, again = "recorded", "already recorded (same key, same entry)"
    if args.home:

        async def work(store: Store, svc: ChargingService) -> bool:
            amount = parse_amount(args.amount, svc.config.currency, "--amount")
            key = operator_key(args.account, args.key)
            return await svc.topup(args.account, amount, key, kind=args.kind, note=args.note or "")

        print(done if run_on_store(args, work) else again)
        return 0
    body = {"amount": args.amount, "kind": args.kind, "idempotency_key": args.key, "note": args.note}
    path = f"/admin/accounts/{quote(args.account, safe='')}/topups"
    return _changed(args, call(args, "POST", path, {k: v for k, v in body.items() if v}), done, again)


def cmd_package_grant(args: argparse.Namespace) -> int:
    done, again = "granted", "already granted (same key, same grant)"
    if args.home:

        async def work(store: Store, svc: ChargingService) -> bool:
            starts = to_ms(args.starts, "--starts") if args.starts else None
            return await svc.grant_package(args.account, args.package, operator_key(args.account, args.key), starts)

        print(done if run_on_store(args, work) else again)
        return 0
    body = {"package": args.package, "idempotency_key": args.key, "starts": args.starts}
    path = f"/admin/accounts/{quote(args.account, safe='')}/packages"
    return _changed(args, call(args, "POST", path, {k: v for k, v in body.items() if v}), done, again)


def cmd_package_list(args: argparse.Namespace) -> int:
    if args.tenant:
        data = call(args, "GET", f"/admin/accounts/{quote(args.tenant, safe='')}/packages")
        columns = ["id", "package", "tokens", "used", "remaining", "starts", "expires", "usable_until", "active"]
        return show(args, data, data["packages"], columns, f"Packages of {args.tenant}")
    data = call(args, "GET", "/admin/packages")
    columns = ["id", "tokens", "models", "valid_days", "rollover_days", "price", "currency"]
    return show(args, data, data["packages"], columns, "Token packages on sale")


def cmd_margin(args: argparse.Namespace) -> int:
    async def work(store: Store, svc: ChargingService) -> tuple[str, list[dict[str, Any]]]:
        since, until = month_bounds(args.period) if args.period else (0, 2**62)
        rows = margin_rows(await svc.store.entries(), await store.usage_records(), await store.load_catalog(),
                           since, until)  # fmt: skip
        return svc.config.currency, rows

    currency, rows = run_on_store(args, work)
    shown = [_margin_shown(r, currency) for r in rows]
    _emit(args, "Revenue and margin per tenant, sector and model", {"currency": currency, "rows": shown})
    return 0


def _margin_shown(row: dict[str, Any], currency: str) -> dict[str, Any]:
    """Revenue and cost each rounded to the minor unit, and the margin as their difference, so the row adds up;
    the exact figures beside them."""
    revenue, cost = to_minor(row["revenue"], currency), to_minor(row["upstream_cost"], currency)
    return {**row, "revenue": format_minor(revenue, currency), "upstream_cost": format_minor(cost, currency),
            "margin": format_minor(revenue - cost, currency), "revenue_exact": format_exact(row["revenue"]),
            "upstream_cost_exact": format_exact(row["upstream_cost"]),
            "margin_exact": format_exact(row["margin"])}  # fmt: skip


def _store(p: argparse.ArgumentParser, offline: bool = False) -> None:
    if offline:
        help = "offline: write this store directly, for a stopped gateway (not audited; default: the admin API)"
    else:
        help = "folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)"
    p.add_argument("--home", help=help)


def report_options(p: argparse.ArgumentParser, formats: bool = True) -> None:
    """A read-only report: from the store (--home or --database-url), or from a gateway's admin API with --url."""
    _store(p)
    p.add_argument("--database-url", help="read this PostgreSQL (default: $TOKENOPS_DATABASE_URL unless --home)")
    p.add_argument("--url", help="ask this gateway's admin API instead of reading the store")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print JSON instead of a table")
    if formats:
        group.add_argument("--csv", action="store_true", help="print CSV instead of a table")


def add_parser(sub: Any) -> None:
    inv = sub.add_parser("invoice")
    inv.add_argument("--tenant", help="the tenant to invoice")
    inv.add_argument("--all", action="store_true", help="every account's invoice (month-end run): JSON lines")
    inv.add_argument("--out", help="with --all: write the invoices to this file (default: stdout)")
    inv.add_argument("--period", default=this_month(), help="YYYY-MM, UTC (default: the current month)")
    report_options(inv)
    inv.set_defaults(func=cmd_invoice)

    ledger = sub.add_parser("ledger").add_subparsers(dest="ledger_command", required=True)
    verify = ledger.add_parser("verify", help="check the ledger's invariants; exit 1 listing what fails")
    verify.add_argument("--grace-ms", type=int, default=60_000, help="how long past expiry a reservation may stay")
    verify.add_argument(
        "--full", action="store_true", help="re-check the whole ledger, not only what is new since the last checkpoint"
    )
    verify.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="new entries one run checks at most")
    report_options(verify, formats=False)
    verify.set_defaults(func=cmd_verify)
    entries = ledger.add_parser("entries", help="a tenant's ledger entries (admin API)")
    entries.add_argument("tenant", help="the tenant whose ledger to list")
    entries.add_argument("--limit", type=int, default=100, help="newest entries to show (default 100)")
    api_options(entries)
    entries.set_defaults(func=cmd_entries)

    topup = sub.add_parser("topup")
    topup.add_argument("account", help="the tenant whose account is credited")
    topup.add_argument("amount", help="major units, e.g. 100.00 (an adjustment may be negative)")
    topup.add_argument("--key", required=True, help="idempotency key, e.g. the payment id")
    topup.add_argument(
        "--kind", choices=("topup", "refund", "adjustment"), default="topup", help="the entry's kind (default topup)"
    )
    topup.add_argument("--note", help="a note kept with the ledger entry")
    api_options(topup)
    _store(topup, offline=True)
    topup.set_defaults(func=cmd_topup)

    package = sub.add_parser("package")
    verbs = package.add_subparsers(dest="package_command", required=True)
    grant = verbs.add_parser("grant", help="grant a package to an account (its price is debited)")
    grant.add_argument("account", help="the tenant who receives the package")
    grant.add_argument("package", help="the package's id in the catalog")
    grant.add_argument("--key", required=True, help="idempotency key, e.g. the order id")
    grant.add_argument("--starts", help="ISO date or time (UTC); default now")
    api_options(grant)
    _store(grant, offline=True)
    grant.set_defaults(func=cmd_package_grant)
    listing = verbs.add_parser("list", help="the packages on sale, or with --tenant what a tenant holds")
    listing.add_argument("--tenant", help="only this tenant")
    api_options(listing)
    listing.set_defaults(func=cmd_package_list)

    report = sub.add_parser("report").add_subparsers(dest="report_command", required=True)
    margin = report.add_parser("margin", help="revenue, upstream cost and margin per tenant, sector and model")
    margin.add_argument("--period", help="YYYY-MM (default: all time)")
    _store(margin)
    group = margin.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print JSON instead of a table")
    group.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    margin.set_defaults(func=cmd_margin)

"""`tokenops accounts | prices | budgets`: money settings through a running gateway's admin API."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from tokenops.cli.admin import api_options, call, show
from tokenops.cli.charging import table
from tokenops.errors import ConfigError

_MODEL_PRICE = re.compile(r"^([^=]+)=([\d.]+)/([\d.]+)(?:/([\d.]+))?$")


def cmd_accounts_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/accounts", query={"tenant": args.tenant})
    columns = ["tenant", "type", "currency", "balance", "limit", "reserved", "available", "package_tokens_remaining"]
    return show(args, data, data["accounts"], columns, "Accounts")


def cmd_accounts_show(args: argparse.Namespace) -> int:
    data = call(args, "GET", f"/admin/accounts/{quote(args.tenant, safe='')}")
    if args.json:
        return show(args, data, [], [], "")
    summary = {k: v for k, v in data.items() if k != "packages"}
    table(f"Account {data['tenant']}", [{"field": k, "value": v} for k, v in summary.items()])
    if data["packages"]:
        keep = ("package", "tokens", "used", "remaining", "usable_until", "active")
        table("Packages", [{k: g[k] for k in keep} for g in data["packages"]])
    return 0


def cmd_accounts_set_limit(args: argparse.Namespace) -> int:
    data = call(args, "PUT", f"/admin/accounts/{quote(args.tenant, safe='')}", {"limit": args.limit})
    if args.json:
        return show(args, data, [], [], "")
    print(f"{data['tenant']}: limit {data['limit']} {data['currency']} (available {data['available']})")
    return 0


def _version(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.file:
        loaded = yaml.safe_load(Path(args.file).read_text())
        if not isinstance(loaded, dict):
            raise ConfigError(f"{args.file}: must hold one price version (a mapping with id and models)")
        body.update(loaded)
    models = body.setdefault("models", {})
    for spec in args.model or ():
        found = _MODEL_PRICE.match(spec)
        if found is None:
            raise ConfigError(f"--model {spec!r}: write NAME=INPUT/OUTPUT[/CACHED], prices per million tokens")
        name, inp, out, cached = found.groups()
        models[name] = {"input": inp, "output": out, **({"cached_input": cached} if cached else {})}
    for name, value in (("id", args.id), ("effective", args.effective)):
        if value:
            body[name] = value
    if not body.get("id") or not models:
        raise ConfigError("a price version needs an id (--id) and prices (--model or --file)")
    return body


def cmd_prices_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/prices")
    rows = [
        {"version": v["id"], "effective": v["effective"], "in force": "yes" if v["in_force"] else "",
         "model": m, "input": p["input"], "output": p["output"], "cached input": p["cached_input"] or ""}
        for v in data["versions"] for m, p in v["models"].items()
    ]  # fmt: skip
    return show(args, data, rows, list(rows[0]) if rows else [], "Price book (per million tokens)")


def cmd_prices_add(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/admin/prices", _version(args))
    if args.json:
        return show(args, data, [], [], "")
    print(f"price version {data['id']} added, effective {data['effective']}")
    return 0


def cmd_budgets_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/budgets", query={"tenant": args.tenant})
    columns = ["id", "scope", "target", "period", "mode", "amount", "tokens", "spent_this_period"]
    return show(args, data, data["budgets"], columns, "Budgets")


def cmd_budgets_set(args: argparse.Namespace) -> int:
    body = {"scope": args.scope, "tenant": args.tenant, "key": args.key, "period": args.period, "mode": args.mode,
            "amount": args.amount, "tokens": args.tokens}  # fmt: skip
    data = call(args, "PUT", f"/admin/budgets/{quote(args.id, safe='')}", {k: v for k, v in body.items() if v})
    if args.json:
        return show(args, data, [], [], "")
    limit = f"{data['tokens']:,} tokens" if data["tokens"] else f"{data['amount']}"
    print(f"budget {data['id']}: {data['mode']} {limit} per {data['period']} on {data['scope']} {data['target']}")
    return 0


def add_parser(sub: Any) -> None:
    accounts = sub.add_parser("accounts")
    verbs = accounts.add_subparsers(dest="accounts_command", required=True)
    listing = verbs.add_parser("list", help="every account you may see, with balances")
    listing.add_argument("--tenant", help="only this tenant")
    api_options(listing)
    listing.set_defaults(func=cmd_accounts_list)
    showing = verbs.add_parser("show", help="one account: balance, limit, reserved, packages")
    showing.add_argument("tenant", help="the tenant whose account to show")
    api_options(showing)
    showing.set_defaults(func=cmd_accounts_show)
    limit = verbs.add_parser("set-limit", help="set the overdraft (prepaid) or credit (postpaid) limit")
    limit.add_argument("tenant", help="the tenant whose limit to set")
    limit.add_argument("limit", help="major units, e.g. 500.00")
    api_options(limit)
    limit.set_defaults(func=cmd_accounts_set_limit)

    prices = sub.add_parser("prices")
    verbs = prices.add_subparsers(dest="prices_command", required=True)
    listing = verbs.add_parser("list", help="every price version")
    api_options(listing)
    listing.set_defaults(func=cmd_prices_list)
    add = verbs.add_parser("add", help="add a version, effective now or later; sectors and contracts carry over")
    add.add_argument("--id", help="the version's id, e.g. 2027-01")
    add.add_argument("--effective", help="ISO date or time (UTC); default now")
    add.add_argument("--model", action="append", help="NAME=INPUT/OUTPUT[/CACHED] per million tokens (repeat)")
    add.add_argument("--file", help="a YAML or JSON price version (id, effective, models, sectors, tenants)")
    api_options(add)
    add.set_defaults(func=cmd_prices_add)

    budgets = sub.add_parser("budgets")
    verbs = budgets.add_subparsers(dest="budgets_command", required=True)
    listing = verbs.add_parser("list", help="budgets and what they spent this period")
    listing.add_argument("--tenant", help="only this tenant")
    api_options(listing)
    listing.set_defaults(func=cmd_budgets_list)
    put = verbs.add_parser("set", help="create or replace a budget")
    put.add_argument("id", help="the budget's id (setting an existing id replaces it)")
    put.add_argument(
        "--scope", choices=("tenant", "key", "session"), required=True, help="what the budget counts against"
    )
    put.add_argument("--tenant", help="the tenant (scope tenant or session)")
    put.add_argument("--key", help="the key id (scope key)")
    put.add_argument(
        "--period", choices=("day", "month", "none"), default="month", help="when it starts again (UTC; default month)"
    )
    put.add_argument("--mode", choices=("hard", "soft"), default="hard", help="hard refuses; soft only alerts")
    amount = put.add_mutually_exclusive_group(required=True)
    amount.add_argument("--amount", help="money per period, major units")
    amount.add_argument("--tokens", type=int, help="tokens per period")
    api_options(put)
    put.set_defaults(func=cmd_budgets_set)

"""`tokenops plans …`: the plans on sale and each tenant's subscriptions, through a gateway's admin API.

Every change goes through the admin API, so it is audited and reaches every replica; the
admin token comes from TOKENOPS_ADMIN_TOKEN.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from tokenops.cli.admin import api_options, call, show
from tokenops.errors import ConfigError

_SUB_COLUMNS = ["id", "plan", "key_id", "starts", "ends", "active", "allowances"]


def _path(tenant: str, *rest: str) -> str:
    return "/".join(["/admin/accounts", quote(tenant, safe=""), "plans", *(quote(r, safe="") for r in rest)])


def cmd_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/plans")
    columns = ["id", "name", "price", "currency", "rollover_percent", "allowances"]
    return show(args, data, data["plans"], columns, "Plans on sale")


def cmd_put(args: argparse.Namespace) -> int:
    try:
        doc = yaml.safe_load(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{args.file}: cannot read the plan: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{args.file}: a plan is a mapping (price, allowances, overage, rollover, name)")
    doc.pop("id", None)
    data = call(args, "PUT", f"/admin/plans/{quote(args.plan_id, safe='')}", doc)
    return show(args, data, [data], ["id", "name", "price", "currency", "rollover_percent", "allowances"], "Plan")


def cmd_show(args: argparse.Namespace) -> int:
    data = call(args, "GET", _path(args.tenant))
    if args.json:
        return show(args, data, [], [], "")
    if not data["subscriptions"]:
        print(f"{args.tenant} has no plan subscription (tokenops plans subscribe {args.tenant} PLAN --key K)")
        return 0
    show(args, data, data["subscriptions"], _SUB_COLUMNS[:-1], f"Plan subscriptions of {args.tenant}")
    rows = [{"subscription": s["id"], **a} for s in data["subscriptions"] for a in s["allowances"] if a["current"]]
    columns = ["subscription", "month", "models", "overage", "tokens", "used", "held", "left"]
    return show(args, data, rows, columns, "This month's allowances (tokens)")


def _done(args: argparse.Namespace, data: dict[str, Any], verb: str) -> int:
    if args.json:
        return show(args, data, [], [], "")
    again = data.get("replayed")
    print(f"{'already ' if again else ''}{verb}: subscription {data['id']} ({data['plan']}) of {data['tenant']}, "
          f"from {data['starts']}" + (f" until {data['ends']}" if data.get("ends") else ""))  # fmt: skip
    return 0


def cmd_subscribe(args: argparse.Namespace) -> int:
    body = {"plan": args.plan, "key_id": args.key_id, "starts": args.starts, "idempotency_key": args.key}
    data = call(args, "POST", _path(args.tenant), {k: v for k, v in body.items() if v is not None})
    return _done(args, data, "subscribed")


def cmd_change(args: argparse.Namespace) -> int:
    data = call(args, "POST", _path(args.tenant, args.subscription, "change"),
                {"plan": args.plan, "idempotency_key": args.key})  # fmt: skip
    return _done(args, data, "changed")


def cmd_cancel(args: argparse.Namespace) -> int:
    body = {"at_period_end": bool(args.at_period_end)}
    return _done(args, call(args, "POST", _path(args.tenant, args.subscription, "cancel"), body), "cancelled")


def add_parser(sub: Any) -> None:
    plans = sub.add_parser("plans")
    verbs = plans.add_subparsers(dest="plans_command", required=True)
    listing = verbs.add_parser("list", help="the plans on sale")
    api_options(listing)
    listing.set_defaults(func=cmd_list)
    put = verbs.add_parser("put", help="create or replace a plan on sale from a YAML or JSON file")
    put.add_argument("plan_id", help="the plan's id")
    put.add_argument("--file", required=True, help="the plan: price, allowances, overage, rollover, name")
    api_options(put)
    put.set_defaults(func=cmd_put)
    showing = verbs.add_parser("show", help="a tenant's subscriptions and this month's allowances")
    showing.add_argument("tenant", help="the tenant")
    api_options(showing)
    showing.set_defaults(func=cmd_show)
    subscribe = verbs.add_parser("subscribe", help="start a plan for a tenant or one of its keys")
    subscribe.add_argument("tenant", help="the tenant")
    subscribe.add_argument("plan", help="the plan's id")
    subscribe.add_argument("--key", required=True, help="idempotency key, e.g. the order id")
    subscribe.add_argument("--key-id", help="the tenant's key this plan is for (default: the whole tenant)")
    subscribe.add_argument("--starts", help="ISO date or time (UTC); default now")
    api_options(subscribe)
    subscribe.set_defaults(func=cmd_subscribe)
    change = verbs.add_parser("change", help="change a subscription's plan now (prorated both ways)")
    change.add_argument("tenant", help="the tenant")
    change.add_argument("subscription", help="the subscription's id (sub_…)")
    change.add_argument("plan", help="the new plan's id")
    change.add_argument("--key", required=True, help="idempotency key, e.g. the order id")
    api_options(change)
    change.set_defaults(func=cmd_change)
    cancel = verbs.add_parser("cancel", help="cancel a subscription now (unused share credited) or at month end")
    cancel.add_argument("tenant", help="the tenant")
    cancel.add_argument("subscription", help="the subscription's id (sub_…)")
    cancel.add_argument("--at-period-end", action="store_true", help="end with the month instead of now")
    api_options(cancel)
    cancel.set_defaults(func=cmd_cancel)

"""`tokenops alerts list | webhooks | add-webhook | remove-webhook | deliveries | replay`: alerts through a running
gateway's admin API."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from tokenops.cli.admin import api_options, call, show


def cmd_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/alerts", query={"tenant": args.tenant, "limit": args.limit})
    rows = [{"id": a["id"], "at_ms": a["at_ms"], "kind": a["kind"], "tenant": a["tenant"],
             "detail": {k: v for k, v in a.items() if k not in ("id", "key", "at_ms", "kind", "tenant")}}
            for a in data["alerts"]]  # fmt: skip
    return show(args, data, rows, ["id", "at_ms", "kind", "tenant", "detail"], "Alerts")


def cmd_webhooks(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/alerts/webhooks", query={"tenant": args.tenant})
    return show(args, data, data["webhooks"], ["id", "url", "tenant", "kinds", "active"], "Alert webhooks")


def cmd_add(args: argparse.Namespace) -> int:
    body = {"url": args.url_of_webhook, "id": args.id, "tenant": args.tenant, "kinds": args.kind or None}
    made = call(args, "POST", "/admin/alerts/webhooks", {k: v for k, v in body.items() if v is not None})
    if args.json:
        return show(args, made, [], [], "")
    print(f"webhook {made['webhook']['id']} added; its signing secret (shown only once):")
    print(made["secret"])
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    data = call(args, "DELETE", f"/admin/alerts/webhooks/{quote(args.webhook, safe='')}")
    return show(args, data, [data["webhook"]], ["id", "url", "active"], "Webhook removed")


def cmd_deliveries(args: argparse.Namespace) -> int:
    query = {"webhook": args.webhook, "tenant": args.tenant, "limit": args.limit}
    data = call(args, "GET", "/admin/alerts/deliveries", query=query)
    columns = ["webhook", "alert", "status", "attempts", "last_status", "last_error", "delivered_ms"]
    return show(args, data, data["deliveries"], columns, "Alert deliveries")


def cmd_replay(args: argparse.Namespace) -> int:
    body = {"from_alert": args.from_alert, **({"to_alert": args.to_alert} if args.to_alert is not None else {})}
    data = call(args, "POST", f"/admin/alerts/webhooks/{quote(args.webhook, safe='')}/replay", body)
    if args.json:
        return show(args, data, [], [], "")
    print(f"{data['requeued']} alerts queued again for {data['webhook']}, to be delivered in order")
    return 0


def add_parser(sub: Any) -> None:
    alerts = sub.add_parser("alerts")
    verbs = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = verbs.add_parser("list", help="alerts raised, newest first")
    listing.add_argument("--tenant", help="only this tenant's alerts")
    listing.add_argument("--limit", type=int, default=100, help="alerts to show at most (default 100)")
    api_options(listing)
    listing.set_defaults(func=cmd_list)
    hooks = verbs.add_parser("webhooks", help="the webhooks alerts go to")
    hooks.add_argument("--tenant", help="only this tenant's webhooks")
    api_options(hooks)
    hooks.set_defaults(func=cmd_webhooks)
    add = verbs.add_parser("add-webhook", help="add a webhook; its signing secret is printed once")
    add.add_argument("url_of_webhook", metavar="URL", help="where alerts are POSTed (on the alerts allowlist)")
    add.add_argument("--id", help="the webhook's id (a tenant-admin's start with its tenant's id and -)")
    add.add_argument("--tenant", help="only this tenant's alerts (default: a tenant-admin's own; an operator's: all)")
    add.add_argument("--kind", action="append", help="only alerts of this kind (repeat; default: every kind)")
    api_options(add)
    add.set_defaults(func=cmd_add)
    remove = verbs.add_parser("remove-webhook", help="stop delivering to a webhook")
    remove.add_argument("webhook", help="the webhook's id")
    api_options(remove)
    remove.set_defaults(func=cmd_remove)
    log = verbs.add_parser("deliveries", help="the delivery log: each alert to each webhook, attempts, last answer")
    log.add_argument("--webhook", help="only this webhook")
    log.add_argument("--tenant", help="only this tenant's alerts")
    log.add_argument("--limit", type=int, default=100, help="deliveries to show at most (default 100)")
    api_options(log)
    log.set_defaults(func=cmd_deliveries)
    replay = verbs.add_parser("replay", help="deliver alerts to a webhook again, in order")
    replay.add_argument("webhook", help="the webhook's id")
    replay.add_argument("--from-alert", type=int, required=True, help="the first alert id to deliver again")
    replay.add_argument("--to-alert", type=int, help="the last alert id (default: every one after the first)")
    api_options(replay)
    replay.set_defaults(func=cmd_replay)

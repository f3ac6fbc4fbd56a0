"""`tokenops quotas defaults | list | show | set | clear`: end-user quotas through a running gateway's admin API."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from tokenops.cli.admin import api_options, call, show
from tokenops.errors import ConfigError

_COLUMNS = ["name", "period", "mode", "tokens", "amount"]


def quota_arg(text: str) -> dict[str, Any]:
    """`name=daily,period=day,tokens=20000[,mode=soft]` (or `amount=1.50`) to a quota document."""
    doc: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"write a quota as name=…,period=day|month,tokens=N|amount=X: {text!r}")
        key, value = key.strip(), value.strip()
        doc[key] = int(value) if key == "tokens" and value.isdigit() else value
    return doc


def _path(args: argparse.Namespace, tail: str = "") -> str:
    return f"/admin/tenants/{quote(args.tenant, safe='')}" + tail


def _user_path(args: argparse.Namespace) -> str:
    return _path(args, f"/end-users/{quote(args.end_user, safe='')}/quotas")


def cmd_defaults(args: argparse.Namespace) -> int:
    if args.quota or args.require_end_user is not None:
        body: dict[str, Any] = {"quotas": args.quota or []}
        if args.require_end_user is not None:
            body["require_end_user"] = args.require_end_user
        data = call(args, "PUT", _path(args, "/end-user-quotas"), body)
    else:
        data = call(args, "GET", _path(args, "/end-user-quotas"))
    title = f"Default end-user quotas of {args.tenant}" + (" (end user required)" if data["require_end_user"] else "")
    return show(args, data, data["quotas"], _COLUMNS, title)


def cmd_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", _path(args, "/end-users"), query={"limit": args.limit})
    rows = [{"end_user": o["end_user"], "quotas": o["quotas"]} for o in data["overrides"]]
    return show(args, data, rows, ["end_user", "quotas"], f"End users of {args.tenant} with quotas of their own")


def _show_user(args: argparse.Namespace, data: dict[str, Any]) -> int:
    columns = [*_COLUMNS, "period_label", "used", "limit"]
    return show(args, data, data["quotas"], columns, f"Quotas of end user {args.end_user} ({args.tenant})")


def cmd_show(args: argparse.Namespace) -> int:
    return _show_user(args, call(args, "GET", _user_path(args)))


def cmd_set(args: argparse.Namespace) -> int:
    quotas = list(args.quota or []) + [{"name": n, "unlimited": True} for n in args.unlimited or []]
    if not quotas:
        raise ConfigError("give at least one --quota or --unlimited")
    return _show_user(args, call(args, "PUT", _user_path(args), {"quotas": quotas}))


def cmd_clear(args: argparse.Namespace) -> int:
    return _show_user(args, call(args, "DELETE", _user_path(args)))


def add_parser(sub: Any) -> None:
    quotas = sub.add_parser("quotas")
    verbs = quotas.add_subparsers(dest="quotas_command", required=True)
    quota_help = "name=…,period=day|month,tokens=N or amount=X[,mode=hard|soft] (repeat)"

    defaults = verbs.add_parser("defaults", help="show, or with --quota replace, a tenant's default quotas")
    defaults.add_argument("tenant", help="the consumer tenant")
    defaults.add_argument("--quota", action="append", type=quota_arg, help=quota_help)
    defaults.add_argument("--require-end-user", action=argparse.BooleanOptionalAction, default=None,
                          help="refuse requests that name no end user")  # fmt: skip
    api_options(defaults)
    defaults.set_defaults(func=cmd_defaults)

    listing = verbs.add_parser("list", help="end users with quotas of their own")
    listing.add_argument("tenant", help="the consumer tenant")
    listing.add_argument("--limit", type=int, default=1000, help="end users to show at most (default 1000)")
    api_options(listing)
    listing.set_defaults(func=cmd_list)

    for verb, helptext, func in (
        ("show", "an end user's quotas and what it used this period", cmd_show),
        ("set", "give an end user quotas of its own (by name, over the tenant's defaults)", cmd_set),
        ("clear", "clear an end user's own quotas", cmd_clear),
    ):
        parser = verbs.add_parser(verb, help=helptext)
        parser.add_argument("tenant", help="the consumer tenant")
        parser.add_argument("end_user", help="the end user (its `user` field or X-End-User)")
        if verb == "set":
            parser.add_argument("--quota", action="append", type=quota_arg, help=quota_help)
            parser.add_argument("--unlimited", action="append", help="lift this default quota for the user (repeat)")
        api_options(parser)
        parser.set_defaults(func=func)

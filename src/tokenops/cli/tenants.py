"""`tokenops tenants list | show`: the tenants a running gateway serves (admin API)."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from tokenops.cli.admin import api_options, call, show
from tokenops.cli.charging import table


def _cell(value: Any) -> Any:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else value


def cmd_tenants_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/tenants")
    rows = [{k: _cell(v) for k, v in t.items()} for t in data["tenants"]]
    columns = ["id", "name", "kind", "sector", "isolation", "residency", "priority_class"]
    return show(args, data, rows, columns, "Tenants")


def cmd_tenants_show(args: argparse.Namespace) -> int:
    data = call(args, "GET", f"/admin/tenants/{quote(args.tenant, safe='')}")
    if args.json:
        return show(args, data, [], [], "")
    table(f"Tenant {data.get('id', args.tenant)}", [{"field": k, "value": _cell(v)} for k, v in data.items()])
    return 0


def add_parser(sub: Any) -> None:
    tenants = sub.add_parser("tenants")
    verbs = tenants.add_subparsers(dest="tenants_command", required=True)
    listing = verbs.add_parser("list", help="every tenant you may see")
    api_options(listing)
    listing.set_defaults(func=cmd_tenants_list)
    showing = verbs.add_parser("show", help="one tenant")
    showing.add_argument("tenant", help="the tenant to show")
    api_options(showing)
    showing.set_defaults(func=cmd_tenants_show)

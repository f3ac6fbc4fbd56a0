"""`tokenops vouchers create | list | revoke | redeem | attempts`: recharge vouchers through a gateway's admin API.

A batch's codes are printed (or written with --out) once, when it is made: the gateway keeps
only their keyed hashes. The admin token comes from TOKENOPS_ADMIN_TOKEN.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tokenops.cli.admin import api_options, call, show
from tokenops.errors import ConfigError

_BATCH_COLUMNS = ["id", "kind", "amount", "package", "expires", "count", "active", "redeemed", "revoked", "note"]


def cmd_create(args: argparse.Namespace) -> int:
    if (args.kind == "money") != (args.amount is not None) or (args.kind == "tokens") != (args.package is not None):
        raise ConfigError("a money voucher takes --amount, a token voucher --package")
    body: dict[str, Any] = {"kind": args.kind, "count": args.count, "expires": args.expires, "amount": args.amount,
                            "package": args.package, "tenants": args.tenant, "tenant_kinds": args.tenant_kind,
                            "note": args.note}  # fmt: skip
    data = call(args, "POST", "/admin/vouchers", {k: v for k, v in body.items() if v is not None})
    codes: list[str] = data["codes"]
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never over another file; owner only
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(code + "\n" for code in codes))
    if args.json:
        return show(args, data, [], [], "")
    batch = data["batch"]
    worth = batch["amount"] + " " + batch["currency"] if batch["kind"] == "money" else "package " + batch["package"]
    print(f"batch {batch['id']}: {batch['count']} codes worth {worth} each, until {batch['expires']}")
    if args.out:
        print(f"codes written to {Path(args.out)} (shown only now: the gateway keeps keyed hashes only)")
    else:
        print("codes (shown only now: the gateway keeps keyed hashes only):")
        print("\n".join(codes))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.batch:
        data = call(args, "GET", f"/admin/vouchers/{quote(args.batch, safe='')}")
        return show(args, data, data["vouchers"], ["id", "status", "redeemed_by", "redeemed"], f"Batch {args.batch}")
    data = call(args, "GET", "/admin/vouchers")
    return show(args, data, data["batches"], _BATCH_COLUMNS, "Voucher batches")


def cmd_revoke(args: argparse.Namespace) -> int:
    body = {k: v for k, v in {"code": args.code, "voucher_id": args.voucher_id}.items() if v is not None}
    data = call(args, "POST", f"/admin/vouchers/{quote(args.batch, safe='')}/revoke", body)
    if args.json:
        return show(args, data, [], [], "")
    print(f"{data['revoked']} codes of batch {data['batch']} revoked")
    return 0


def cmd_redeem(args: argparse.Namespace) -> int:
    body = {k: v for k, v in {"code": args.code, "tenant": args.tenant}.items() if v is not None}
    data = call(args, "POST", "/admin/vouchers/redeem", body)
    if args.json:
        return show(args, data, [], [], "")
    account = data["account"]
    print(
        ("already redeemed by this tenant: " if data["replayed"] else "redeemed: ")
        + f"voucher {data['voucher']}, {data['entry']['kind']} {data['entry']['amount']} {account['currency']}"
    )
    print(f"{account['tenant']}: balance {account['balance']} {account['currency']}, "
          f"package tokens {account['package_tokens_remaining']:,}")  # fmt: skip
    return 0


def cmd_attempts(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/vouchers/attempts", query={"tenant": args.tenant, "limit": args.limit})
    if not args.json:
        print("  ".join(f"{k}: {v:,}" for k, v in sorted(data["counts"].items())))
    columns = ["id", "at", "tenant", "address", "outcome", "voucher"]
    return show(args, data, data["attempts"], columns, "Voucher redemption attempts")


def add_parser(sub: Any) -> None:
    vouchers = sub.add_parser("vouchers")
    verbs = vouchers.add_subparsers(dest="vouchers_command", required=True)
    create = verbs.add_parser("create", help="issue a batch of single-use codes (printed once)")
    create.add_argument("--kind", choices=("money", "tokens"), default="money", help="default money")
    create.add_argument("--amount", help="what a money voucher is worth, major units (e.g. 50.00)")
    create.add_argument("--package", help="the package a token voucher grants")
    create.add_argument("--count", type=int, required=True, help="how many codes (at most 10,000)")
    create.add_argument("--expires", required=True, help="ISO date or time (UTC) the codes expire")
    create.add_argument("--tenant", action="append", help="a tenant that may redeem them (repeat)")
    create.add_argument("--tenant-kind", action="append", choices=("enterprise", "government", "consumer"),
                        help="a kind of tenant that may redeem them (repeat); none named: anyone")  # fmt: skip
    create.add_argument("--note", help="kept with the batch (e.g. the sales order)")
    create.add_argument("--out", help="write the codes to this new file (mode 600) instead of printing them")
    api_options(create)
    create.set_defaults(func=cmd_create)
    listing = verbs.add_parser("list", help="the batches, or one batch's codes and their state")
    listing.add_argument("batch", nargs="?", help="a batch id (vb_…)")
    api_options(listing)
    listing.set_defaults(func=cmd_list)
    revoke = verbs.add_parser("revoke", help="revoke a batch's unredeemed codes, or one of them")
    revoke.add_argument("batch", help="the batch id (vb_…)")
    which = revoke.add_mutually_exclusive_group()
    which.add_argument("--code", help="only this code")
    which.add_argument("--voucher-id", help="only this voucher (vb_…-00001)")
    api_options(revoke)
    revoke.set_defaults(func=cmd_revoke)
    redeem = verbs.add_parser("redeem", help="redeem a code (a tenant-admin for its tenant; an operator names one)")
    redeem.add_argument("code", help="the voucher code, as printed")
    redeem.add_argument("--tenant", help="the tenant to credit (an operator's token)")
    api_options(redeem)
    redeem.set_defaults(func=cmd_redeem)
    attempts = verbs.add_parser("attempts", help="redemption attempts, newest first, with counts per outcome")
    attempts.add_argument("--tenant", help="only this tenant's")
    attempts.add_argument("--limit", type=int, default=100, help="newest attempts to show (default 100)")
    api_options(attempts)
    attempts.set_defaults(func=cmd_attempts)

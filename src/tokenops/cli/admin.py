"""`tokenops keys ...` and `tokenops security ...`: the admin API of a running gateway, from the shell.

The admin token comes from TOKENOPS_ADMIN_TOKEN, never from the command line (shell history).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from rich.table import Table

from tokenops.cli.common import console, default_url
from tokenops.errors import ConfigError

_HINTS = {
    401: "the admin token was refused: set TOKENOPS_ADMIN_TOKEN to a valid admin token",
    403: "this needs an operator token; a tenant-admin token may only read its own tenant",
    404: "no such object, or not one this admin token may see",
    409: "it clashes with what is stored: an idempotency key is reused only to retry the very same request",
    429: "too many requests or failed logins from here; wait a minute and retry",
}


def call(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> Any:
    token = os.environ.get("TOKENOPS_ADMIN_TOKEN")
    if not token:
        raise ConfigError("set TOKENOPS_ADMIN_TOKEN to an admin token (operator, or tenant-admin to read)")
    params = {k: v for k, v in (query or {}).items() if v is not None}
    url = args.url.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = orjson.loads(exc.read())["error"]["message"]
        except Exception:
            message = exc.reason
        hint = _HINTS.get(exc.code)
        raise ConfigError(f"{method} {path}: {exc.code} {message}" + (f"\n  hint: {hint}" if hint else "")) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(
            f"cannot reach the gateway at {args.url}: {reason}\n"
            "  hint: is it running (tokenops serve)? Point at it with --url or TOKENOPS_URL"
        ) from None


def show(args: argparse.Namespace, data: Any, rows: list[dict[str, Any]], columns: list[str], title: str) -> int:
    if args.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    table = Table(title=title)
    for column in columns:
        table.add_column(_EPOCH_COLUMNS.get(column, column))
    for row in rows:
        table.add_row(*(_cell(c, row.get(c, "")) for c in columns))
    console().print(table)
    return 0


_EPOCH_COLUMNS = {"at_ms": "at (UTC)", "created_ms": "created (UTC)", "expires_ms": "expires (UTC)"}


def _cell(column: str, value: Any) -> str:
    """A table cell: epoch milliseconds as a UTC date and time, nested values as JSON."""
    if column in _EPOCH_COLUMNS and isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def cmd_keys_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "tenant": args.tenant,
        "id": args.id,
        "models": args.model or None,
        "expires_at": args.expires_at,
        "allowed_networks": args.allowed_network or None,
    }
    made = call(args, "POST", "/admin/keys", {k: v for k, v in body.items() if v is not None})
    if args.json:
        return show(args, made, [], [], "")
    print(f"key {made['key']['id']} for {made['key']['tenant']} created; its secret (shown only once):")
    print(made["secret"])
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/keys", query={"tenant": args.tenant})
    return show(args, data, data["keys"], ["id", "tenant", "prefix", "status", "models", "expires_at"], "API keys")


def cmd_keys_change(args: argparse.Namespace) -> int:
    data = call(args, "POST", f"/admin/keys/{quote(args.key_id, safe='')}/{args.verb}")
    if args.json:
        return show(args, data, [], [], "")
    print(
        f"key {data['key']['id']}: {args.verb}d"
        + (f"; new secret (shown only once):\n{data['secret']}" if "secret" in data else "")
    )
    return 0


def cmd_security_events(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/security/events", query={"tenant": args.tenant, "limit": args.limit})
    rows = [{**e, "why": (e.get("evidence") or {}).get("summary", "")} for e in data["events"]]
    columns = ["id", "at_ms", "tenant", "key", "detector", "score", "action", "why"]
    if args.evidence:
        columns.append("evidence")
    return show(args, data, rows, columns, "Security events")


def cmd_security_benign(args: argparse.Namespace) -> int:
    body = {"key": args.key, "event": args.event, "pattern": args.pattern, "tenant": args.tenant, "note": args.note}
    data = call(args, "POST", "/admin/security/benign", {k: v for k, v in body.items() if v is not None})
    if args.json:
        return show(args, data, [], [], "")
    mark = data["mark"]
    what = f"key {mark['key']}" if mark.get("key") else f"pattern (tenant {mark.get('tenant') or 'every tenant'})"
    learned = "; its traffic profile was learned" if mark["profile_learned"] else ""
    print(f"{what} marked benign as {mark['id']}{learned}")
    return 0


def cmd_security_marks(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/admin/security/benign")
    columns = ["id", "status", "key", "tenant", "by", "at_ms", "note", "profile_learned"]
    return show(args, data, data["marks"], columns, "Benign marks")


def cmd_security_withdraw(args: argparse.Namespace) -> int:
    data = call(args, "POST", f"/admin/security/benign/{quote(args.mark_id, safe='')}/withdraw")
    if args.json:
        return show(args, data, [], [], "")
    print(f"benign mark {data['mark']['id']} withdrawn")
    return 0


def api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=default_url(),
        help="the gateway (default: $TOKENOPS_URL, else http://127.0.0.1:$TOKENOPS_PORT, port 8080 if unset)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_parser(sub: Any) -> None:
    """Register `keys` and `security` on the main parser's subparsers."""
    keys = sub.add_parser("keys")
    verbs = keys.add_subparsers(dest="keys_command", required=True)
    create = verbs.add_parser("create", help="create a key; its secret is printed once")
    api_options(create)
    create.add_argument("--tenant", help="default: the tenant of a tenant-admin token")
    create.add_argument("--id", help="the key's id (a tenant-admin's start with its tenant's id and -)")
    create.add_argument("--model", action="append", help="allowed model or alias (repeat); default: all")
    create.add_argument("--expires-at", help="ISO 8601 date-time")
    create.add_argument("--allowed-network", action="append", help="client IP network (repeat)")
    create.set_defaults(func=cmd_keys_create)
    listing = verbs.add_parser("list", help="list keys")
    api_options(listing)
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.set_defaults(func=cmd_keys_list)
    for verb in ("rotate", "revoke"):
        change = verbs.add_parser(verb, help=f"{verb} a key")
        api_options(change)
        change.add_argument("key_id", help="the id of the key")
        change.set_defaults(func=cmd_keys_change, verb=verb)

    security = sub.add_parser("security")
    what = security.add_subparsers(dest="security_command", required=True)
    events = what.add_parser("events", help="list security events")
    api_options(events)
    events.add_argument("--tenant", help="only this tenant's events")
    events.add_argument("--limit", type=int, default=100, help="newest events to show (default 100)")
    events.add_argument("--evidence", action="store_true", help="add each event's full evidence")
    events.set_defaults(func=cmd_security_events)
    benign = what.add_parser("benign", help="appeal: mark a key, an event's key or a prompt pattern benign")
    api_options(benign)
    chosen = benign.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--key", help="the key's id: never acted on again, its traffic profile learned")
    chosen.add_argument("--event", type=int, help="a security event's id: its key, as --key")
    chosen.add_argument("--pattern", help="an example prompt: prompts like it stop counting as evidence")
    benign.add_argument("--tenant", help="with --pattern: only this tenant's prompts (default: every tenant)")
    benign.add_argument("--note", help="why (kept in the audit log)")
    benign.set_defaults(func=cmd_security_benign)
    marks = what.add_parser("marks", help="list the benign marks")
    api_options(marks)
    marks.set_defaults(func=cmd_security_marks)
    withdraw = what.add_parser("withdraw", help="withdraw a benign mark")
    api_options(withdraw)
    withdraw.add_argument("mark_id", help="the mark's id (see `security marks`)")
    withdraw.set_defaults(func=cmd_security_withdraw)

"""The `tokenops` command: a table of subcommands, each loaded from its own module only when it runs.

Importing every subcommand's module up front cost a second before anything was printed (alembic,
SQLAlchemy, aiohttp and the server for `tokenops --help`). So the table below names the module of
each command by its dotted name: the chosen command gets its module's full parser, every other one
a one-line entry for the help listing, and a command loads only what it uses. Completion scripts
and the tests build the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from tokenops import __version__
from tokenops.errors import ConfigError

# command: (module that adds its parser, one line of help); listed in this order by `tokenops --help`
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("tokenops.cli.serve", "run the gateway"),
    "simulate": ("tokenops.cli.serve", "run the simulated upstream (OpenAI wire format)"),
    "check-config": ("tokenops.cli.config", "validate a YAML catalog"),
    "usage": ("tokenops.cli.usage", "usage per tenant and model, from the store (--home or --database-url)"),
    "routing": ("tokenops.cli.routing", "evaluate and train the complexity router"),
    "compaction": ("tokenops.cli.compaction", "compaction of long sessions: evaluate, apply, generate sessions"),
    "demo": ("tokenops.cli.demo", "demo helpers: a realistic mixed day of traffic against a gateway"),
    "sla": ("tokenops.cli.sla", "service-level reports"),
    "compliance": ("tokenops.cli.compliance", "compliance reports"),
    "keys": ("tokenops.cli.admin", "create, list, rotate and revoke API keys (admin API)"),
    "security": ("tokenops.cli.admin", "bulk-extraction defence: events and actions (admin API)"),
    "invoice": ("tokenops.cli.charging", "a tenant's invoice for a calendar month (UTC)"),
    "ledger": ("tokenops.cli.charging", "the money ledger: verify its invariants, list entries"),
    "topup": ("tokenops.cli.charging", "credit an account once per idempotency key (admin API)"),
    "package": ("tokenops.cli.charging", "token packages (admin API)"),
    "report": ("tokenops.cli.charging", "reports: margin"),
    "plans": ("tokenops.cli.plans", "monthly plans and subscriptions (admin API)"),
    "vouchers": ("tokenops.cli.vouchers", "recharge vouchers (admin API)"),
    "quotas": ("tokenops.cli.quotas", "end-user quotas of consumer tenants (admin API)"),
    "alerts": ("tokenops.cli.alerts", "alerts and their webhooks: list, deliveries, replay (admin API)"),
    "export": ("tokenops.cli.export", "the usage export to NATS JetStream: lag, replay, re-publication"),
    "reconcile": ("tokenops.cli.reconcile", "tokens served = charged = re-rated usage; exit 1 on any difference"),
    "accounts": ("tokenops.cli.accounts", "prepaid and postpaid accounts (admin API)"),
    "prices": ("tokenops.cli.accounts", "the price book (admin API, operator)"),
    "budgets": ("tokenops.cli.accounts", "budgets on tenants, keys and sessions (admin API)"),
    "tenants": ("tokenops.cli.tenants", "the tenants served (admin API)"),
    "policy": ("tokenops.cli.policy", "verify routing policies before deploying them"),
    "db": ("tokenops.cli.db", "database schema migrations"),
    "completion": ("tokenops.cli.completion", "print a shell completion script"),
}
ALIASES = {"packages": "package", "plan": "plans", "voucher": "vouchers"}


class _Commands:
    """The subparsers action as a command module sees it: a command's help comes from the table above."""

    def __init__(self, sub: Any) -> None:
        self._sub = sub

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", COMMANDS[name][1])
        kwargs.setdefault("aliases", [alias for alias, target in ALIASES.items() if target == name])
        parser: argparse.ArgumentParser = self._sub.add_parser(name, **kwargs)
        return parser


def build_parser(command: str | None = None, whole: bool = True) -> argparse.ArgumentParser:
    """The parser with `command`'s module loaded; with no command, every module (`whole`) or none."""
    parser = argparse.ArgumentParser(prog="tokenops", description="Token operations platform")
    parser.add_argument("--version", action="version", version=f"tokenops {__version__}")
    parser.set_defaults(whole_parser=build_parser)
    sub = _Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    chosen = COMMANDS.get(ALIASES.get(command or "", command or ""), ("", ""))[0]
    loaded: set[str] = set()
    for name, (module, _) in COMMANDS.items():
        if module == chosen or (whole and command is None):
            if module not in loaded:
                importlib.import_module(module).add_parser(sub)
                loaded.add(module)
        else:
            sub.add_parser(name)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on the line (the first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_in(words), whole=False).parse_args(words)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

"""`tokenops` subcommands: serve, simulate, check-config, usage."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from rich.table import Table

from tokenops import __version__, migrations
from tokenops.catalog import load_catalog
from tokenops.catalog.model import EXACT_TOKENIZERS, TOKENIZE_STYLES
from tokenops.cli import accounts as accounts_cli
from tokenops.cli import admin as admin_cli
from tokenops.cli import alerts as alerts_cli
from tokenops.cli import charging as charging_cli
from tokenops.cli import compaction as compaction_cli
from tokenops.cli import completion as completion_cli
from tokenops.cli import compliance as compliance_cli
from tokenops.cli import db as db_cli
from tokenops.cli import demo as demo_cli
from tokenops.cli import export as export_cli
from tokenops.cli import policy as policy_cli
from tokenops.cli import quotas as quotas_cli
from tokenops.cli import reconcile as reconcile_cli
from tokenops.cli import routing as routing_cli
from tokenops.cli import sla as sla_cli
from tokenops.cli import tenants as tenants_cli
from tokenops.cli.common import console, read_store
from tokenops.cli.ops_config import check_ops_sections
from tokenops.errors import ConfigError
from tokenops.server import serve, simulate
from tokenops.simulator.engine import SimConfig
from tokenops.store.backing import Backing
from tokenops.tokenize import is_tokenizer_file


def _home(args: argparse.Namespace) -> Path:
    return Path(args.home or os.environ.get("TOKENOPS_HOME") or ".tokenops")


def cmd_serve(args: argparse.Namespace) -> int:
    config = args.config or os.environ.get("TOKENOPS_CONFIG")
    spec = load_catalog(config) if config else None
    port = args.port or int(os.environ.get("TOKENOPS_PORT", "8080"))
    backing = Backing.from_env(args.database_url, args.redis_url)
    print(f"tokenops {__version__} serving on http://{args.host}:{port} ({backing.describe(_home(args))})", flush=True)
    migrations.upgrade(backing, _home(args))
    serve(spec, _home(args), args.host, port, backing)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    config = SimConfig(
        ttft_ms=args.ttft_ms,
        tokens_per_s=args.tokens_per_s,
        reply_tokens=args.reply_tokens,
        context_window=args.context_window,
        error_rate=args.error_rate,
        error_status=args.error_status,
        cut_after=args.cut_after,
        omit_usage=args.omit_usage,
        tokenizer=args.tokenizer,
        imitate=args.imitate or "",
    )
    print(f"simulated upstream on http://{args.host}:{args.port}/v1", flush=True)
    simulate(config, args.host, args.port)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    spec = load_catalog(args.file)
    check_ops_sections(spec.raw)
    print(
        f"{args.file}: ok — {len(spec.tenants)} tenants, {len(spec.keys)} keys, {len(spec.models)} models, "
        f"{len(spec.deployments)} deployments, {len(spec.aliases)} aliases"
    )
    for model in spec.models.values():
        if model.kind != "chat" or model.tokenizer in EXACT_TOKENIZERS or is_tokenizer_file(model.tokenizer):
            continue
        asking = [d.id for d in spec.deployments.values() if d.model == model.name and d.provider == "openai"
                  and d.tokenize != "none"]  # fmt: skip
        fallback = (
            f"its server's tokenize endpoint counts it where one answers (probed on {', '.join(asking)}), "
            "else it is estimated"
            if asking
            else "it is estimated (about four bytes a token)"
        )
        print(
            f"warning: model {model.name!r} has no exact tokenizer here: when its upstream sends no usage, "
            f"{fallback} and that is billed; name its tokenizer file (tokenizer: /path/model.gguf or "
            "tokenizer.json) to count exactly",
            file=sys.stderr,
        )
    return 0


def _since(value: str | None) -> int | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since: not an ISO date or time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def cmd_usage(args: argparse.Namespace) -> int:
    since = _since(args.since)
    rows = read_store(_home(args), lambda store: store.usage_summary(since))
    if args.tenant:
        rows = [r for r in rows if r["tenant"] == args.tenant]
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    table = Table(title="Usage per tenant and model")
    for name, justify in (
        ("tenant", "left"),
        ("model", "left"),
        ("requests", "right"),
        ("input_tokens", "right"),
        ("output_tokens", "right"),
        ("cached_tokens", "right"),
        ("refused", "right"),
        ("errors", "right"),
    ):
        table.add_column(name.replace("_", " "), justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenops", description="Token operations platform")
    parser.add_argument("--version", action="version", version=f"tokenops {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="YAML catalog that seeds the store (default: $TOKENOPS_CONFIG)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    serve.add_argument("--port", type=int, default=None, help="default: $TOKENOPS_PORT or 8080")
    serve.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    serve.add_argument("--database-url", help="postgresql://… to scale out (default: $TOKENOPS_DATABASE_URL)")
    serve.add_argument("--redis-url", help="redis://… for shared limits (default: $TOKENOPS_REDIS_URL)")
    serve.set_defaults(func=cmd_serve)

    sim = sub.add_parser("simulate", help="run the simulated upstream (OpenAI wire format)")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    sim.add_argument("--port", type=int, default=9000, help="port to listen on (default %(default)s)")
    sim.add_argument("--ttft-ms", type=float, default=0.0, help="time to first token, ms")
    sim.add_argument("--tokens-per-s", type=float, default=0.0, help="output pace (0: no pacing)")
    sim.add_argument("--reply-tokens", type=int, default=0, help="fixed reply length (0: 16-64 by prompt)")
    sim.add_argument("--context-window", type=int, default=0, help="refuse longer prompts (0: no limit)")
    sim.add_argument("--error-rate", type=float, default=0.0, help="share of requests that fail, 0 to 1")
    sim.add_argument("--error-status", type=int, default=500, help="HTTP status of a failure")
    sim.add_argument("--cut-after", type=int, default=0, help="cut streams after N tokens")
    sim.add_argument("--omit-usage", action="store_true", help="never send usage in streams")
    sim.add_argument("--tokenizer", default="cl100k",
                     help="how it counts tokens: a family or a tokenizer file (default %(default)s)")  # fmt: skip
    sim.add_argument("--imitate", choices=TOKENIZE_STYLES,
                     help="offer this server's tokenize endpoints (llama-cpp-python: no stream usage)")  # fmt: skip
    sim.set_defaults(func=cmd_simulate)

    check = sub.add_parser("check-config", help="validate a YAML catalog")
    check.add_argument("file", help="the catalog YAML to check")
    check.set_defaults(func=cmd_check_config)

    usage = sub.add_parser("usage", help="usage per tenant and model")
    usage.add_argument("--json", action="store_true", help="print JSON instead of a table")
    usage.add_argument("--tenant", help="only this tenant")
    usage.add_argument("--since", help="ISO date or time (UTC)")
    usage.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    usage.set_defaults(func=cmd_usage)

    routing_cli.add_parser(sub)
    compaction_cli.add_parser(sub)
    demo_cli.add_parser(sub)
    sla_cli.add_parser(sub)
    compliance_cli.add_parser(sub)
    admin_cli.add_parser(sub)
    charging_cli.add_parser(sub)
    reconcile_cli.add_parser(sub)
    accounts_cli.add_parser(sub)
    tenants_cli.add_parser(sub)
    policy_cli.add_parser(sub)
    quotas_cli.add_parser(sub)
    export_cli.add_parser(sub)
    alerts_cli.add_parser(sub)
    db_cli.add_parser(sub)
    completion_cli.add_parser(sub, parser)  # last: the script covers every command above
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

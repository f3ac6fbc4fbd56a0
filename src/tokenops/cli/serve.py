"""`tokenops serve | simulate`: run the gateway, or the simulated upstream on its own."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tokenops import __version__, migrations, workers
from tokenops.catalog.model import TOKENIZE_STYLES
from tokenops.cli.common import home_of
from tokenops.errors import ConfigError
from tokenops.gateway.state import Settings
from tokenops.keys import load_secret
from tokenops.server import catalog_to_seed, serve, simulate
from tokenops.simulator.engine import SimConfig
from tokenops.store.backing import Backing


def cmd_serve(args: argparse.Namespace) -> int:
    config = args.config or os.environ.get("TOKENOPS_CONFIG")
    port = args.port or int(os.environ.get("TOKENOPS_PORT", "8080"))
    backing = Backing.from_env(args.database_url, args.redis_url)
    home = home_of(args)
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}")
    if args.workers > 1:
        return _serve_workers(args, config, port, backing)
    sock = workers.inherited_socket()
    if sock is None:  # a worker's parent has already upgraded the store
        print(f"tokenops {__version__} serving on http://{args.host}:{port} ({backing.describe(home)})", flush=True)
        migrations.upgrade(backing, home)
    spec = catalog_to_seed(Path(config), home, backing) if config else None
    serve(spec, home, args.host, port, backing, sock)
    return 0


def _serve_workers(args: argparse.Namespace, config: str | None, port: int, backing: Backing) -> int:
    workers.check_scaled_out(args.workers, backing.database_url, backing.redis_url)
    home = home_of(args)
    migrations.upgrade(backing, home)
    load_secret(home)  # made once, before the workers start: they must all hash keys alike
    sock = workers.listening_socket(args.host, port)
    print(f"tokenops {__version__} serving on http://{args.host}:{port} with {args.workers} workers "
          f"({backing.describe(home)})", flush=True)  # fmt: skip
    env = {"TOKENOPS_DATABASE_URL": backing.database_url or "", "TOKENOPS_REDIS_URL": backing.redis_url or ""}
    argv = workers.worker_command(config, args.host, port, str(home))
    return workers.Supervisor(argv, sock, args.workers, Settings.from_env().shutdown_grace_s, env).run()


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


def add_parser(sub: Any) -> None:
    serve = sub.add_parser("serve")
    serve.add_argument("--config", help="YAML catalog that seeds the store (default: $TOKENOPS_CONFIG)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default: $TOKENOPS_PORT or 8080)")
    serve.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    serve.add_argument("--database-url", help="postgresql://… to scale out (default: $TOKENOPS_DATABASE_URL)")
    serve.add_argument("--redis-url", help="redis://… for shared limits (default: $TOKENOPS_REDIS_URL)")
    serve.add_argument("--workers", type=int, default=1,
                       help="gateway processes on this port, e.g. one per core (more than one needs the scaled-out "
                            "stores: --database-url and --redis-url; default %(default)s)")  # fmt: skip
    serve.set_defaults(func=cmd_serve)

    sim = sub.add_parser("simulate")
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

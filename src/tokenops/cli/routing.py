"""`tokenops routing evaluate|train|latency`: measure and train the complexity router on recorded data.

Data comes from one dataset (`--dataset` with `--weak`/`--strong` columns), a corpus of several
kinds (`--corpus` manifest, `--data` folder), or the operator's recorded traffic with its quality
labels (`--traffic`, `--labels`, `--home` for which model served a rated request).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tokenops.cli.routing_report import print_report, print_transfer
from tokenops.errors import ConfigError
from tokenops.routing import latency
from tokenops.routing.corpus import load_corpus, read_manifest
from tokenops.routing.dataset import HELDOUT_FRACTION, Row
from tokenops.routing.evaluate import evaluate, evaluate_rows
from tokenops.routing.features import FEATURE_SETS
from tokenops.routing.model import ComplexityRouter
from tokenops.routing.traffic import Traffic, read_labels, read_traffic
from tokenops.routing.train import TARGETS, TrainConfig, train_router, train_rows
from tokenops.routing.transfer import held_out_kinds


def _router(args: argparse.Namespace) -> ComplexityRouter:
    return ComplexityRouter.load(Path(args.model)) if args.model else ComplexityRouter.load_default()


# Reading the store loads the database clients: only `train --traffic` with --home or --database-url needs them,
# so the module that reads it is loaded by name then, and `tokenops routing --help` stays light.
SERVED_READER = "tokenops.cli.routing_served"


def _traffic(args: argparse.Namespace) -> Traffic:
    labels = read_labels(Path(args.labels)) if args.labels else None
    reader = importlib.import_module(SERVED_READER) if args.home or args.database_url else None
    served: dict[str, str] | None = reader.served(args) if reader is not None else None
    traffic = read_traffic(Path(args.traffic), labels, served)
    if not traffic.rows:
        reasons = ", ".join(f"{n:,} {why}" for why, n in traffic.skipped.most_common()) or "the file is empty"
        raise ConfigError(f"{args.traffic}: no labelled chat requests ({reasons})")
    return traffic


def _rows(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """The rows named by the data arguments, and what describes them in a report."""
    if args.corpus:
        rows = load_corpus(read_manifest(Path(args.corpus), Path(args.data) if args.data else None))
        return rows, {"corpus": args.corpus}
    if args.traffic:
        traffic = _traffic(args)
        return traffic.rows, {
            "traffic": args.traffic,
            "lines": traffic.lines,
            "labelled_rows": len(traffic.rows),
            "skipped": dict(traffic.skipped),
        }
    raise ConfigError("give --dataset (with --weak and --strong), --corpus (with --data), or --traffic")


def _target_args(args: argparse.Namespace) -> tuple[float | None, float | None]:
    quality, share = args.quality, args.strong_share
    if quality is not None and share is not None:
        raise ConfigError("give --quality or --strong-share, not both")
    for name, value in (("--quality", quality), ("--strong-share", share)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} is a fraction between 0 and 1")
    return quality, share


def _write(report: dict[str, Any], args: argparse.Namespace) -> None:
    data = orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
    if args.out:
        Path(args.out).write_bytes(data)
    if args.json:
        sys.stdout.write(data.decode())


def cmd_evaluate(args: argparse.Namespace) -> int:
    quality, share = _target_args(args)
    router = _router(args)
    if args.held_out_kinds:
        if quality is not None or share is not None:
            raise ConfigError("--held-out-kinds reports fixed figures; leave out --quality and --strong-share")
        rows, about = _rows(args)
        recipe = TrainConfig(**{k: v for k, v in router.meta.get("config", {}).items() if k in _CONFIG_FIELDS})
        console = Console(stderr=True)
        reports = held_out_kinds(rows, recipe, args.kind or (), lambda kind: console.print(f"held out: {kind}"))
        report = {**about, "recipe": asdict(recipe), "held_out_kinds": reports}
        _write(report, args)
        if not args.json:
            print_transfer(report)
        return 0
    if args.dataset:
        contaminated = Path(args.contaminated) if args.contaminated else None
        if not (args.weak and args.strong):
            raise ConfigError("--dataset needs --weak and --strong: the two models' quality columns")
        report = evaluate(Path(args.dataset), args.weak, args.strong, router, contaminated, quality, share)
    else:
        rows, about = _rows(args)
        report = {**about, **evaluate_rows(rows, router, quality, share)}
    _write(report, args)
    if not args.json:
        print_report(report)
    return 0


_CONFIG_FIELDS = {f.name for f in fields(TrainConfig)}


def _config(args: argparse.Namespace) -> TrainConfig:
    given = {name: getattr(args, name) for name in _CONFIG_FIELDS if getattr(args, name, None) is not None}
    return TrainConfig(**given)


def cmd_train(args: argparse.Namespace) -> int:
    config = _config(args)
    console = Console(stderr=True)
    with Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("train", total=config.epochs)

        def progress(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        if args.dataset:
            if not (args.weak and args.strong):
                raise ConfigError("--dataset needs --weak and --strong: the two models' quality columns")
            contaminated = Path(args.contaminated) if args.contaminated else None
            router = train_router(
                Path(args.dataset), args.weak, args.strong, config, args.heldout_fraction, contaminated, progress
            )
        else:
            rows, about = _rows(args)
            router = train_rows(rows, config, args.heldout_fraction, progress)
            router.meta = {"name": Path(args.corpus or args.traffic).name, **about, **router.meta}
    router.save(Path(args.out))
    meta = router.meta
    console.print(
        f"wrote {args.out}: {meta['features']:,} features, trained on {meta['train_rows']:,} prompts, "
        f"{meta['heldout_rows']:,} held out (evaluate with --model {args.out})"
    )
    return 0


def cmd_latency(args: argparse.Namespace) -> int:
    router = _router(args)
    results = {
        "short_prompt": latency.measure(router, latency.short_body(), args.runs),
        "long_session": latency.measure(router, latency.long_session_body(), args.runs),
    }
    if args.json:
        sys.stdout.write(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    table = Table(title=f"Scoring cost per request ({args.runs:,} runs each)")
    for name in ("request", "wall p50", "wall p99", "CPU p50", "CPU p99"):
        table.add_column(name, justify="left" if name == "request" else "right")
    for name, r in results.items():
        table.add_row(name, *(f"{r[k]:.3f} ms" for k in ("wall_p50_ms", "wall_p99_ms", "cpu_p50_ms", "cpu_p99_ms")))
    Console().print(table)
    return 0


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", help="a CSV, or a folder of CSVs, with a quality column per model")
    parser.add_argument("--weak", help="quality column of the cheap model (booleans or scores)")
    parser.add_argument("--strong", help="quality column of the expensive model")
    parser.add_argument(
        "--contaminated", help="JSONL of prompts to leave out (default: contaminated_prompts.jsonl beside the data)"
    )
    parser.add_argument("--corpus", help="a corpus manifest (YAML): several sources, each with its kind and pair")
    parser.add_argument("--data", help="the folder the corpus manifest's paths are relative to (default: its own)")
    parser.add_argument("--traffic", help="recorded requests (JSONL: tenant, time, body), labels inline or --labels")
    parser.add_argument("--labels", help="quality labels (JSONL) matched to --traffic lines by request_id or line")
    parser.add_argument("--home", help="the embedded store whose usage records say which model served a rated request")
    parser.add_argument("--database-url", help="the same from PostgreSQL")


def add_parser(sub: Any) -> None:
    """Register `routing evaluate`, `train` and `latency` on the main parser's subparsers."""
    routing = sub.add_parser("routing")
    verbs = routing.add_subparsers(dest="routing_command", required=True)

    ev = verbs.add_parser("evaluate", help="cost-quality curve of the router on recorded data, per kind of prompt")
    _data_args(ev)
    ev.add_argument("--model", help="router model file (default: the one shipped with tokenops)")
    ev.add_argument("--quality", type=float, help="report the threshold reaching this share of the strong quality")
    ev.add_argument("--strong-share", type=float, help="report the threshold keeping to this share of strong calls")
    ev.add_argument(
        "--held-out-kinds",
        action="store_true",
        help="leave each kind out in turn: train the model's recipe on the others, judge it on that kind",
    )
    ev.add_argument(
        "--kind",
        action="append",
        help="with --held-out-kinds: only this kind, or kinds held out together as one mixture: a,b,c (repeatable)",
    )
    ev.add_argument("--out", help="also write the JSON report here (the curve `tokenops policy simulate` reads)")
    ev.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    ev.set_defaults(func=cmd_evaluate)

    lat = verbs.add_parser("latency", help="what scoring costs per request, short and very long")
    lat.add_argument("--model", help="router model file (default: the one shipped with tokenops)")
    lat.add_argument("--runs", type=int, default=2000, help="prompts scored (default %(default)s)")
    lat.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lat.set_defaults(func=cmd_latency)

    tr = verbs.add_parser("train", help="train a router model on recorded data")
    _data_args(tr)
    tr.add_argument("--out", required=True, help="model file to write (.json.gz)")
    defaults = TrainConfig()
    tr.add_argument("--epochs", type=int, help=f"passes over the data (default {defaults.epochs})")
    tr.add_argument("--learning-rate", type=float, help=f"step size (default {defaults.learning_rate})")
    tr.add_argument("--l2", type=float, help=f"weight decay (default {defaults.l2})")
    tr.add_argument("--min-count", type=int, help=f"rarest feature kept (default {defaults.min_count})")
    tr.add_argument("--feature-set", choices=sorted(FEATURE_SETS), help=f"(default {defaults.feature_set})")
    tr.add_argument("--target", choices=TARGETS, help=f"what the score estimates (default {defaults.target})")
    tr.add_argument("--min-kinds", type=int, help=f"keep a word only if seen in this many kinds ({defaults.min_kinds})")
    tr.add_argument(
        "--kind-bias",
        action=argparse.BooleanOptionalAction,
        help="absorb each kind's base rate in a training-only bias, so weights learn within kinds",
    )
    tr.add_argument(
        "--balance-kinds", action=argparse.BooleanOptionalAction, help="weight rows so every kind counts alike"
    )
    tr.add_argument("--heldout-fraction", type=float, default=HELDOUT_FRACTION, help="share held out, by prompt hash")
    tr.set_defaults(func=cmd_train)

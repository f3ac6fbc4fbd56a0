"""`tokenops routing evaluate|train`: measure and train the complexity router on recorded data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tokenops.routing import latency
from tokenops.routing.dataset import HELDOUT_FRACTION
from tokenops.routing.evaluate import evaluate
from tokenops.routing.model import ComplexityRouter
from tokenops.routing.train import TrainConfig, train_router


def _router(args: argparse.Namespace) -> ComplexityRouter:
    return ComplexityRouter.load(Path(args.model)) if args.model else ComplexityRouter.load_default()


def _pct(value: object) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, float | int) else "—"


def _print_report(report: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]{report['dataset']}[/bold]: {report['rows_read']:,} rows, {report['distinct_prompts']:,} distinct "
        f"prompts, {report['contaminated_dropped']} contaminated dropped, "
        f"{report['training_prompts_excluded']:,} training prompts left out — evaluated on "
        f"{report['scope']}: n = {report['n']:,}"
    )
    console.print(
        f"weak ({report['weak']}) quality {report['weak_accuracy']:.4f}, "
        f"strong ({report['strong']}) {report['strong_accuracy']:.4f}"
    )
    summary = Table(title="Share of strong calls needed (lower is better); APGR and savings higher is better")
    for name in ("router", "CPT(50%)", "CPT(80%)", "CPT(95%)", "APGR", "savings at 95% strong"):
        summary.add_column(name, justify="left" if name == "router" else "right")
    for label, figures in (("complexity router", report), ("random", report["random"]), ("oracle", report["oracle"])):
        summary.add_row(
            label,
            _pct(figures["cpt50"]),
            _pct(figures["cpt80"]),
            _pct(figures["cpt95"]),
            f"{figures['apgr']:.3f}" if figures["apgr"] is not None else "—",
            _pct(figures["savings_at_95pct_strong_accuracy"]),
        )
    console.print(summary)
    curve = Table(title="Cost-quality curve")
    for name in ("strong share", "quality", "gap recovered", "threshold"):
        curve.add_column(name, justify="right")
    for point in report["curve"]:
        threshold = point["threshold"]
        curve.add_row(
            _pct(point["strong_share"]),
            f"{point['quality']:.4f}",
            _pct(point["pgr"]),
            "—" if threshold is None else f"{threshold:.4f}",
        )
    console.print(curve)


def cmd_evaluate(args: argparse.Namespace) -> int:
    contaminated = Path(args.contaminated) if args.contaminated else None
    report = evaluate(Path(args.dataset), args.weak, args.strong, _router(args), contaminated)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_report(report)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    config = TrainConfig(epochs=args.epochs, learning_rate=args.learning_rate, l2=args.l2, min_count=args.min_count)
    contaminated = Path(args.contaminated) if args.contaminated else None
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
        router = train_router(
            Path(args.dataset),
            args.weak,
            args.strong,
            config,
            heldout_fraction=args.heldout_fraction,
            contaminated=contaminated,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
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
    parser.add_argument("--dataset", required=True, help="a CSV, or a folder of CSVs")
    parser.add_argument("--weak", required=True, help="quality column of the cheap model (booleans or scores)")
    parser.add_argument("--strong", required=True, help="quality column of the expensive model")
    parser.add_argument(
        "--contaminated", help="JSONL of prompts to leave out (default: contaminated_prompts.jsonl beside the data)"
    )


def add_parser(sub: Any) -> None:
    """Register `routing evaluate` and `routing train` on the main parser's subparsers."""
    routing = sub.add_parser("routing")
    verbs = routing.add_subparsers(dest="routing_command", required=True)

    ev = verbs.add_parser("evaluate", help="cost-quality curve of the router on recorded data")
    _data_args(ev)
    ev.add_argument("--model", help="router model file (default: the one shipped with tokenops)")
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
    tr.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the data")
    tr.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="step size")
    tr.add_argument("--l2", type=float, default=defaults.l2, help="weight decay")
    tr.add_argument("--min-count", type=int, default=defaults.min_count, help="rarest feature kept")
    tr.add_argument("--heldout-fraction", type=float, default=HELDOUT_FRACTION, help="share held out, by prompt hash")
    tr.set_defaults(func=cmd_train)

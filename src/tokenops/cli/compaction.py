"""`tokenops compaction`: generate evaluation sessions, measure diagnostic fidelity, compact a session."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

import tokenops
from tokenops.catalog import load_catalog
from tokenops.compaction import CompactionPolicy, Compactor, TokenCache, compact
from tokenops.compaction.corpora import GENERATORS
from tokenops.compaction.evaluate import Score, load_labels, read_session, score, session_files
from tokenops.compaction.sessions import write_session
from tokenops.errors import ConfigError
from tokenops.tokenize import counter_for

_DEMO_CATALOG = Path(tokenops.__file__).resolve().parents[2] / "examples" / "demo.yaml"


def _ratios(value: str) -> list[float]:
    try:
        ratios = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--ratios: not a list of numbers: {value!r}") from None
    if not ratios or any(r < 1 for r in ratios):
        raise ConfigError("--ratios: each ratio must be at least 1")
    return ratios


def cmd_generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    gen = GENERATORS[args.generator]
    chosen = [s for s in gen.sessions if not args.only or s[0] in args.only.split(",")]
    for name, seed, tokens, kind in chosen:
        messages, labels = gen.generate(name, seed, tokens, kind)
        path = write_session(out, messages, labels)
        print(f"{path}: {len(messages)} messages, {labels.tokens:,} tokens (cl100k)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    ratios = _ratios(args.ratios)
    counter = counter_for(args.tokenizer)
    scores: list[Score] = []
    for path in session_files(Path(args.sessions)):
        messages = read_session(path)
        labels = load_labels(path, messages)
        cache = TokenCache(counter)
        for ratio in ratios:
            scores.append(score(path.name.removesuffix(".jsonl"), messages, labels, ratio, counter, cache))
    if args.json:
        sys.stdout.write(orjson.dumps([s.as_dict() for s in scores], option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _table(scores)
    return 1 if any(s.invented_identifiers for s in scores) else 0


def _table(scores: list[Score]) -> None:
    table = Table(title="Compaction: diagnostic items kept verbatim")
    columns = ["session", "ratio", "tokens before", "tokens after", "error lines", "stack frames"]
    for name in [*columns, "identifiers", "warnings", "failing cmds", "invented", "ms"]:
        table.add_column(name, justify="left" if name == "session" else "right")
    for s in scores:
        table.add_row(
            s.session,
            f"{s.ratio:g}x",
            f"{s.tokens_before:,}",
            f"{s.tokens_after:,}",
            *(f"{v:.1%}" for v in (s.error_lines_kept, s.stack_frames_kept, s.identifiers_kept)),
            *(f"{v:.1%}" for v in (s.warning_lines_kept, s.failing_commands_kept)),
            str(s.invented_identifiers),
            f"{s.elapsed_ms:.0f}",
        )
    Console().print(table)


def cmd_apply(args: argparse.Namespace) -> int:
    config = args.config or os.environ.get("TOKENOPS_CONFIG") or _DEMO_CATALOG
    spec = load_catalog(config)
    model = spec.models.get(args.model)
    if model is None:
        raise ConfigError(f"{args.model}: no such model in {config} (models: {', '.join(spec.models)})")
    counter = counter_for(model.tokenizer)
    messages = read_session(Path(args.session))
    if args.ratio is not None:
        if args.ratio < 1:
            raise ConfigError("--ratio must be at least 1")
        policy = CompactionPolicy(mode="ratio", ratio=args.ratio, keep_recent=args.keep_recent)
    else:
        policy = CompactionPolicy(threshold=args.threshold, target=args.threshold, keep_recent=args.keep_recent)
    decision, result = Compactor(policy).run(messages, None, counter=counter, context_window=model.context_window)
    if result is None:  # under the threshold: passed on as it is
        result = compact(messages, counter=counter, target_tokens=decision.target_tokens, keep_recent=args.keep_recent)
    out = sys.stdout.buffer
    for m in result.messages:
        out.write(orjson.dumps(m) + b"\n")
    out.flush()
    _report(args.model, result.tokens_before, result.tokens_after, result.fits, decision.target_tokens)
    return 0 if result.fits else 3


def _report(model: str, before: int, after: int, fits: bool, target: int) -> None:
    note: dict[str, Any] = {"model": model, "tokens_before": before, "tokens_after": after, "target": target}
    if not fits:
        note["error"] = "does not fit: the system prompts, tools and last turn alone exceed the target"
    print(orjson.dumps(note).decode(), file=sys.stderr)


def add_parser(sub: Any) -> None:
    """Registers `tokenops compaction {generate,evaluate,apply}`."""
    parser = sub.add_parser("compaction")
    commands = parser.add_subparsers(dest="compaction_command", required=True)

    gen = commands.add_parser("generate", help="write the seeded evaluation sessions (JSONL + labels)")
    gen.add_argument("--out", required=True, help="folder to write NAME.jsonl and NAME.labels.json to")
    gen.add_argument("--only", help="comma-separated session names (default: all)")
    gen.add_argument("--generator", choices=sorted(GENERATORS), default="agent",
                     help="; ".join(f"{g.name}: {g.about}" for g in GENERATORS.values()))  # fmt: skip
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("evaluate", help="diagnostic fidelity per session and compression ratio")
    ev.add_argument("--sessions", required=True, help="folder of NAME.jsonl sessions (NAME.labels.json optional)")
    ev.add_argument("--ratios", default="2,4,8", help="tokens before / tokens after, comma-separated")
    ev.add_argument("--tokenizer", default="cl100k", help="cl100k or o200k")
    ev.add_argument("--json", action="store_true", help="one object per session and ratio")
    ev.set_defaults(func=cmd_evaluate)

    ap = commands.add_parser("apply", help="compact a session for a model; JSONL to stdout")
    ap.add_argument("--session", required=True, help="JSONL file, one OpenAI chat message a line")
    ap.add_argument("--model", required=True, help="model of the catalog (its window and tokenizer)")
    ap.add_argument("--ratio", type=float, default=None, help="tokens before / after (default: fit the window)")
    ap.add_argument("--threshold", type=float, default=0.85, help="share of the window to fit (default 0.85)")
    ap.add_argument("--keep-recent", type=int, default=8, help="recent messages kept verbatim (default 8)")
    ap.add_argument("--config", help="YAML catalog (default: $TOKENOPS_CONFIG, else examples/demo.yaml)")
    ap.set_defaults(func=cmd_apply)

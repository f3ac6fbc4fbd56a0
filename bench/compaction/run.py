"""Fidelity and latency of compaction on every session generator, against baseline revisions in the same run.

    .venv/bin/python bench/compaction/run.py [--baseline REV ...] [--runs 5] [--sessions DIR]

Generates the seeded sessions of each generator (agent, noc, field), compacts each at 2x,
4x and 8x with this tree's compactor and with the compactor of each baseline revision
(extracted with `git archive` and run in a subprocess, so both see the same sessions),
scores every output with this tree's evaluation (the generators' own labels), times
compact() on four sessions, and writes bench/results/compaction-fidelity.{md,json}.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from baseline_worker import extract
from report_compaction import markdown

from tokenops.compaction import TokenCache
from tokenops.compaction.corpora import GENERATORS
from tokenops.compaction.evaluate import Outcome, load_labels, measure, read_session, score
from tokenops.compaction.sessions import write_session
from tokenops.tokenize import counter_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RATIOS = (2.0, 4.0, 8.0)
TIMED = ("ops-50k", "ops-200k", "noc-bgp-190k", "noc-dns-365k")


def sessions(folder: Path) -> list[tuple[str, Path]]:
    """(generator, path) of every session, generated unless the folder holds it already."""
    found = []
    for gen in GENERATORS.values():
        for name, seed, tokens, kind in gen.sessions:
            path = folder / gen.name / f"{name}.jsonl"
            if not path.exists():
                write_session(path.parent, *gen.generate(name, seed, tokens, kind))
            found.append((gen.name, path))
    return found


def current(found: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    counter = counter_for("cl100k")
    rows = []
    for _, path in found:
        messages = read_session(path)
        labels = load_labels(path, messages)
        cache = TokenCache(counter)
        rows += [score(path.stem, messages, labels, ratio, counter, cache).as_dict() for ratio in RATIOS]
    return rows


def current_latency(found: list[tuple[str, Path]], runs: int, work: Path) -> list[dict[str, Any]]:
    """The same worker as for a baseline, on this tree."""
    out = work / "current-latency"
    out.mkdir()
    _worker(ROOT / "src", found, out, runs)
    return list(orjson.loads((out / "latency.json").read_bytes()))


def _worker(tree: Path, found: list[tuple[str, Path]], out: Path, runs: int) -> None:
    folder = found[0][1].parents[1]
    argv = [sys.executable, str(HERE / "baseline_worker.py"), str(tree), str(folder), str(out),
            ",".join(f"{r:g}" for r in RATIOS), str(runs), ",".join(TIMED)]  # fmt: skip
    subprocess.run(argv, check=True, cwd=tempfile.gettempdir())


def baseline(rev: str, found: list[tuple[str, Path]], runs: int, work: Path) -> tuple[list[dict[str, Any]], Any]:
    """Scores of the compactor at `rev` on the same sessions, and its latency."""
    tree = extract(rev, work)
    out = work / f"out-{rev}"
    out.mkdir()
    _worker(tree, found, out, runs)
    rows = []
    for _, path in found:
        messages = read_session(path)
        labels = load_labels(path, messages)
        for ratio in RATIOS:
            rec = orjson.loads((out / f"{path.stem}@{ratio:g}.json").read_bytes())
            run = Outcome(path.stem, ratio, rec["tokens_before"], rec["tokens_after"], rec["target"], rec["elapsed_ms"])
            rows.append(measure(run, messages, rec["messages"], labels).as_dict())
    return rows, orjson.loads((out / "latency.json").read_bytes())


def _describe(rev: str) -> str:
    line = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s", rev], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    return line[:110] + ("…" if len(line) > 110 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", action="append", default=[], help="git revision to compare (repeatable)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", help="folder of generated sessions (default: a temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tokenops-compaction-bench-"))
    found = sessions(Path(args.sessions) if args.sessions else work / "sessions")
    results: dict[str, Any] = {"current": {"rows": current(found), "latency": current_latency(found, args.runs, work)}}
    described = {"current": "this tree"}
    for rev in args.baseline:
        rows, latency = baseline(rev, found, args.runs, work)
        for row in rows:  # the report breaks down this tree's figures only
            del row["by_style"], row["by_language"]
        results[rev] = {"rows": rows, "latency": latency}
        described[rev] = _describe(rev)
    generator_of = {path.stem: gen for gen, path in found}
    for result in results.values():
        for row in result["rows"]:
            row["generator"] = generator_of[row["session"]]
    command = "  ".join(["python bench/compaction/run.py", *(f"--baseline {r}" for r in args.baseline)])
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    out = ROOT / "bench" / "results"
    report = {"command": command, "machine": machine, "revisions": described, "results": results}
    (out / "compaction-fidelity.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    text = markdown(report, sizes=_sizes(found))
    (out / "compaction-fidelity.md").write_text(text, encoding="utf-8")
    print(text)


def _sizes(found: list[tuple[str, Path]]) -> dict[str, str]:
    tokens: dict[str, list[int]] = defaultdict(list)
    for gen, path in found:
        data = orjson.loads(path.with_name(path.stem + ".labels.json").read_bytes())
        tokens[gen].append(int(data.get("tokens", 0)))
    return {g: f"{len(t)} sessions, {min(t) // 1000}k-{max(t) // 1000}k tokens" for g, t in tokens.items()}


if __name__ == "__main__":
    main()

"""Fidelity and latency of compaction on the seeded evaluation sessions.

    .venv/bin/python bench/compaction/run.py [--sessions DIR] [--runs 7]

Generates the standard sessions (unless DIR already holds them), scores them at 2x, 4x
and 8x, times the compactor on the 50k/100k/200k sessions, and writes
bench/results/compaction-fidelity.{md,json}.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from tokenops.compaction import TokenCache, compact
from tokenops.compaction.evaluate import load_labels, read_session, score
from tokenops.compaction.sessions import STANDARD_SET, generate, write_session
from tokenops.tokenize import counter_for

ROOT = Path(__file__).resolve().parents[2]
RATIOS = (2.0, 4.0, 8.0)
TIMED = ("ops-50k", "ops-100k", "ops-200k")
SHARES = ("error_lines_kept", "identifiers_kept", "stack_frames_kept", "frame_references_kept")
MORE = ("warning_lines_kept", "failing_commands_kept")


def fidelity(folder: Path) -> list[dict[str, Any]]:
    counter = counter_for("cl100k")
    rows = []
    for name, *_ in STANDARD_SET:
        path = folder / f"{name}.jsonl"
        messages = read_session(path)
        labels = load_labels(path, messages)
        cache = TokenCache(counter)
        rows += [score(name, messages, labels, ratio, counter, cache).as_dict() for ratio in RATIOS]
    return rows


def latency(folder: Path, runs: int) -> list[dict[str, Any]]:
    counter = counter_for("cl100k")
    rows = []
    for name in TIMED:
        messages = read_session(folder / f"{name}.jsonl")
        before = TokenCache(counter).request(messages)
        for ratio in (2.0, 8.0):
            target = int(before / ratio)
            for mode in ("cold", "warm"):
                wall, cpu = [], []
                warm = TokenCache(counter)
                compact(messages, counter=counter, target_tokens=target, cache=warm)
                for _ in range(runs):
                    cache = warm if mode == "warm" else TokenCache(counter)
                    w, c = time.perf_counter(), time.process_time()
                    compact(messages, counter=counter, target_tokens=target, cache=cache)
                    wall.append((time.perf_counter() - w) * 1000)
                    cpu.append((time.process_time() - c) * 1000)
                rows.append(
                    {
                        "session": name,
                        "tokens": before,
                        "ratio": ratio,
                        "cache": mode,
                        "runs": runs,
                        "wall_ms_median": round(statistics.median(wall), 1),
                        "wall_ms_min": round(min(wall), 1),
                        "cpu_ms_median": round(statistics.median(cpu), 1),
                    }
                )
    return rows


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def markdown(rows: list[dict[str, Any]], timing: list[dict[str, Any]], command: str, machine: str) -> str:
    out = [
        "# Compaction: diagnostic fidelity and latency",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}",
        "",
        "Sessions: 8 seeded agent sessions from `tokenops.compaction.sessions.STANDARD_SET` "
        "(operations and coding agents; kubectl, journalctl, syslog, alarm console, pytest, Maven, grep, cat, curl; "
        "50k-400k cl100k tokens). Items are the generator's own labels, not the compactor's rules. "
        "Shares are of distinct labelled items kept verbatim anywhere in the compacted request; "
        "identifiers are those on error lines, frame references the file:line of application frames.",
        "",
        "## Per ratio (all sessions)",
        "",
        "| ratio | error lines | identifiers | stack frames | frame refs | warnings | failing cmds | invented "
        "| worst error lines | worst identifiers |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ratio in RATIOS:
        sel = [r for r in rows if r["ratio"] == ratio]

        def pooled(key: str, item: str, sel: list[dict[str, Any]] = sel) -> float:
            total = sum(r["items"][item] for r in sel)
            return sum(r[key] * r["items"][item] for r in sel) / total if total else 1.0

        items = ("error_lines", "identifiers", "stack_frames", "frame_references", "warning_lines", "failing_commands")
        keys = (*SHARES, *MORE)
        cells = [_pct(pooled(k, i)) for k, i in zip(keys, items, strict=True)]
        worst_e = min(sel, key=lambda r: r["error_lines_kept"])
        worst_i = min(sel, key=lambda r: r["identifiers_kept"])
        out.append(
            f"| {ratio:g}x | {' | '.join(cells)} | {sum(r['invented_identifiers'] for r in sel)} "
            f"| {_pct(worst_e['error_lines_kept'])} ({worst_e['session']}) "
            f"| {_pct(worst_i['identifiers_kept'])} ({worst_i['session']}) |"
        )
    out += [
        "",
        "Pooled shares weight each session by its number of items.",
        "",
        "## Per session",
        "",
        "| session | ratio | tokens before | tokens after | error lines | identifiers | stack frames | frame refs "
        "| warnings | invented |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['session']} | {r['ratio']:g}x | {r['tokens_before']:,} | {r['tokens_after']:,} "
            f"| {_pct(r['error_lines_kept'])} | {_pct(r['identifiers_kept'])} | {_pct(r['stack_frames_kept'])} "
            f"| {_pct(r['frame_references_kept'])} | {_pct(r['warning_lines_kept'])} | {r['invented_identifiers']} |"
        )
    out += [
        "",
        "## Latency of `compact()`",
        "",
        "Cold: a fresh count cache (every message tokenized). Warm: the cache holds the session's counts, "
        "as on the next request of a growing session. Wall time on a shared 2-core machine under load from "
        "other jobs; CPU time is this process's own.",
        "",
        "| session | tokens | ratio | cache | wall median ms | wall min ms | CPU median ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in timing:
        out.append(
            f"| {t['session']} | {t['tokens']:,} | {t['ratio']:g}x | {t['cache']} | {t['wall_ms_median']} "
            f"| {t['wall_ms_min']} | {t['cpu_ms_median']} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", help="folder of the generated sessions (default: a temporary one)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(args.sessions or tempfile.mkdtemp(prefix="tokenops-sessions-"))
    for name, seed, tokens, kind in STANDARD_SET:
        if not (folder / f"{name}.jsonl").exists():
            write_session(folder, *generate(name, seed, tokens, kind))
    rows = fidelity(folder)
    timing = latency(folder, args.runs)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    command = ".venv/bin/python bench/compaction/run.py"
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    report = {"command": command, "machine": machine, "fidelity": rows, "latency": timing}
    (results / "compaction-fidelity.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    (results / "compaction-fidelity.md").write_text(markdown(rows, timing, command, machine), encoding="utf-8")
    print((results / "compaction-fidelity.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()

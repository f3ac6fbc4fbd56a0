"""The Markdown report of bench/compaction/run.py."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

ABOUT = {
    "agent": "the team's first generator (operations and coding agents); the compactor was first built on it",
    "noc": "NOC fault isolation, written for this work before the compactor was changed; the changes were tuned on it",
    "field": "written after tuning as a held-out check; its first run is the baseline at the last commit before "
    "it existed; fixes followed, so the current figures on it are no longer held out",
}
ITEMS = (
    ("error_lines", "error_lines_kept"),
    ("identifiers", "identifiers_kept"),
    ("stack_frames", "stack_frames_kept"),
)


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def _pooled(rows: list[dict[str, Any]], item: str, key: str) -> float:
    total = sum(r["items"][item] for r in rows)
    return sum(r[key] * r["items"][item] for r in rows) / total if total else 1.0


def _summary(label: str, rows: list[dict[str, Any]]) -> str:
    cells = [_pct(_pooled(rows, item, key)) for item, key in ITEMS]
    labelled = any(r["items"]["root_cause"] for r in rows)
    whole = f"{sum(r['root_cause_whole'] for r in rows)} of {len(rows)}" if labelled else "not labelled"
    worst = min(rows, key=lambda r: r["error_lines_kept"])
    invented = sum(r["invented_identifiers"] for r in rows)
    valid = sum(r["valid"] for r in rows)
    return (
        f"| {label} | {' | '.join(cells)} | {whole} | {_pct(worst['error_lines_kept'])} "
        f"({worst['session']}) | {invented} | {valid} of {len(rows)} |"
    )


def markdown(report: dict[str, Any], sizes: dict[str, str]) -> str:
    results, revisions = report["results"], report["revisions"]
    out = [
        "# Compaction: diagnostic fidelity and latency, per generator and per line style",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']} (shared with other jobs)",
        "",
        "Compactors compared on the same sessions, each scored by this tree's evaluation:",
        "",
        *(f"- `{rev}`: {text}" for rev, text in revisions.items()),
        "",
        "Generators (labels are each generator's own, written with the lines, never derived from the compactor's "
        "rules):",
        "",
        *(f"- **{g}** ({sizes.get(g, '')}): {ABOUT.get(g, '')}" for g in sizes),
        "",
        "Shares are of distinct labelled items kept verbatim anywhere in the compacted request, pooled over the "
        "sessions (weighted by their items). Identifiers are those written on error lines. Root cause: sessions "
        "whose every root-cause line survived. Valid: outputs that are well-formed conversations (roles, tool "
        "calls each answered).",
        "",
        "## Per generator and ratio",
        "",
        "| generator, ratio, compactor | error lines | identifiers | stack frames | whole root cause | worst error "
        "lines | invented | valid |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for gen in sizes:
        for ratio in (2.0, 4.0, 8.0):
            for rev, result in results.items():
                rows = [r for r in result["rows"] if r["generator"] == gen and r["ratio"] == ratio]
                if rows:
                    out.append(_summary(f"{gen} {ratio:g}x `{rev}`", rows))
    out += [
        "",
        "## Per line style (this tree)",
        "",
        "Error lines by the format they are written in; `lines` counts distinct lines over the generator's sessions.",
        "",
        "| generator | style | lines | kept 2x | kept 4x | kept 8x |",
        "|---|---|---|---|---|---|",
    ]
    out += _styles(results["current"]["rows"], "by_style")
    out += [
        "",
        "## Stack frames per language (this tree)",
        "",
        "| generator | language | frames | kept 2x | kept 4x | kept 8x |",
        "|---|---|---|---|---|---|",
    ]
    out += _styles(results["current"]["rows"], "by_language")
    out += [
        "",
        "## Per session (this tree)",
        "",
        "| session | ratio | tokens before | tokens after | error lines "
        "| identifiers | stack frames | root cause | invented | valid |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["current"]["rows"]:
        out.append(
            f"| {r['session']} | {r['ratio']:g}x | {r['tokens_before']:,} | {r['tokens_after']:,} "
            f"| {_pct(r['error_lines_kept'])} | {_pct(r['identifiers_kept'])} | {_pct(r['stack_frames_kept'])} "
            f"| {_pct(r['root_cause_kept']) if r['items']['root_cause'] else '-'} | {r['invented_identifiers']} "
            f"| {'yes' if r['valid'] else 'NO'} |"
        )
    out += [
        "",
        "## Latency of compact() (CPU ms, median)",
        "",
        "Cold: a fresh count cache. Warm: the cache already holds the session (its counts and, in this tree, its "
        "scanned lines), as on the next request of a growing session.",
        "",
        "| session | tokens | ratio | " + " | ".join(f"cold `{r}` | warm `{r}`" for r in results) + " |",
        "|---|---|---|" + "---|---|" * len(results),
    ]
    timed = results["current"]["latency"]
    for k, t in enumerate(timed):
        cells = []
        for result in results.values():
            other = result["latency"][k]
            cells += [str(other["cold_cpu_ms"]), str(other["warm_cpu_ms"])]
        out.append(f"| {t['session']} | {t['tokens']:,} | {t['ratio']:g}x | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _styles(rows: list[dict[str, Any]], field: str) -> list[str]:
    table: dict[tuple[str, str], dict[float, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in rows:
        for style, (found, kept) in r[field].items():
            cell = table[(r["generator"], style)][r["ratio"]]
            cell[0] += found
            cell[1] += kept
    lines = []
    for (gen, style), by_ratio in sorted(table.items()):
        n = by_ratio[2.0][0]
        shares = [_pct(by_ratio[x][1] / by_ratio[x][0]) if by_ratio[x][0] else "-" for x in (2.0, 4.0, 8.0)]
        lines.append(f"| {gen} | {style} | {n} | " + " | ".join(shares) + " |")
    return lines

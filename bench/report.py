"""Summarise the measured cells (medians over rounds, added latency vs direct, ratios) as JSON and Markdown."""

from __future__ import annotations

import math
import statistics
from typing import Any

METRICS = (
    "rps",
    "p50_ms",
    "p99_ms",
    "ttfb_p50_ms",
    "ttfb_p99_ms",
    "gateway_cpu_ms_per_req",
    "gateway_core_busy",
    "gateway_rss_mb",
    "client_core_busy",
    "other_cpu_busy",
)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else None


def summarise(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target x mode x concurrency: medians over rounds, plus added latency vs direct."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["target"], cell["mode"], cell["concurrency"]), []).append(cell)
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for key, group in groups.items():
        row: dict[str, Any] = {"target": key[0], "mode": key[1], "concurrency": key[2], "rounds": len(group)}
        row["requests"] = sum(c["requests"] for c in group)
        row["errors"] = sum(c["errors"] for c in group)
        row["first_error"] = next((c["first_error"] for c in group if c["first_error"]), "")
        for metric in METRICS:
            row[metric] = _median([c[metric] for c in group])
        rows[key] = row
    for (target, mode, conc), row in rows.items():
        direct = rows.get(("direct", mode, conc))
        for metric in ("p50_ms", "p99_ms", "ttfb_p50_ms"):
            base = direct[metric] if direct else None
            value = row[metric]
            row["added_" + metric] = value - base if value is not None and base is not None else None
        del target
    return sorted(rows.values(), key=lambda r: (r["mode"], r["concurrency"], _ORDER.get(r["target"], 9)))


_ORDER = {"direct": 0, "floor": 1, "tokenops": 2, "portkey": 3, "litellm": 4}
PEERS = ("floor", "portkey", "litellm")


def ratios(rows: list[dict[str, Any]], peer: str = "litellm") -> list[dict[str, Any]]:
    """tokenops vs `peer` per mode and concurrency: how many times better tokenops is (below 1: worse)."""
    index = {(r["target"], r["mode"], r["concurrency"]): r for r in rows}
    out = []
    for (target, mode, conc), ours in index.items():
        theirs = index.get((peer, mode, conc))
        if target != "tokenops" or theirs is None:
            continue
        out.append(
            {
                "peer": peer,
                "mode": mode,
                "concurrency": conc,
                "throughput_x": _div(ours["rps"], theirs["rps"]),
                "cpu_per_req_x": _div(theirs["gateway_cpu_ms_per_req"], ours["gateway_cpu_ms_per_req"]),
                "added_p50_x": _div(theirs["added_p50_ms"], ours["added_p50_ms"]),
                "added_p99_x": _div(theirs["added_p99_ms"], ours["added_p99_ms"]),
                "rss_x": _div(theirs["gateway_rss_mb"], ours["gateway_rss_mb"]),
            }
        )
    return sorted(out, key=lambda r: (r["mode"], r["concurrency"]))


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def load_table(rows: list[dict[str, Any]], mode: str) -> list[str]:
    stream = mode == "stream"
    head = "| conc | target | req/s | p50 ms | p99 ms | added p50 | added p99 |"
    head += " TTFB p50 | added TTFB |" if stream else ""
    head += " gw CPU ms/req | gw core busy | gw RSS MB | client core busy | errors |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r["mode"] != mode:
            continue
        cells = [
            str(r["concurrency"]),
            f"**{r['target']}**" if r["target"] == "tokenops" else r["target"],
            _f(r["rps"], 0),
            _f(r["p50_ms"]),
            _f(r["p99_ms"]),
            _f(r["added_p50_ms"]) if r["target"] != "direct" else "",
            _f(r["added_p99_ms"]) if r["target"] != "direct" else "",
        ]
        if stream:
            cells += [_f(r["ttfb_p50_ms"]), _f(r["added_ttfb_p50_ms"]) if r["target"] != "direct" else ""]
        cells += [
            _f(r["gateway_cpu_ms_per_req"], 3),
            _pct(r["gateway_core_busy"]),
            _f(r["gateway_rss_mb"], 0),
            _pct(r["client_core_busy"]),
            str(r["errors"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def ratio_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| mode | conc | throughput x | CPU/req x (less) | added p50 x (less) | added p99 x (less) | RSS x (less) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        values = [r["throughput_x"], r["cpu_per_req_x"], r["added_p50_x"], r["added_p99_x"], r["rss_x"]]
        lines.append(f"| {r['mode']} | {r['concurrency']} | " + " | ".join(_f(v, 1) for v in values) + " |")
    return lines


def floor_table(rows: list[dict[str, Any]]) -> list[str]:
    """Each gateway's CPU per request as a multiple of the Python floor's, per mode and concurrency."""
    index = {(r["target"], r["mode"], r["concurrency"]): r for r in rows}
    names = [n for n in ("tokenops", "portkey", "litellm") if any(k[0] == n for k in index)]
    lines = ["| mode | conc | floor CPU ms/req | " + " | ".join(f"{n} ÷ floor" for n in names) + " |"]
    lines.append("|" + "---|" * (3 + len(names)))
    for (target, mode, conc), floor in sorted(index.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if target != "floor":
            continue
        cells = [mode, str(conc), _f(floor["gateway_cpu_ms_per_req"], 3)]
        for name in names:
            row = index.get((name, mode, conc))
            cells.append(_f(_div(row["gateway_cpu_ms_per_req"], floor["gateway_cpu_ms_per_req"]), 1) if row else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def size_table(rows: list[dict[str, Any]]) -> list[str]:
    by_tokens: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_tokens.setdefault(r["tokens"], {})[r["target"]] = r
    names = [n for n in _ORDER if any(n in v for v in by_tokens.values())]
    head = "| prompt tokens | body KB | " + " | ".join(f"{n} median ms" for n in names)
    head += " | " + " | ".join(f"{n} added ms" for n in names if n != "direct") + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for tokens, group in sorted(by_tokens.items()):
        direct = group["direct"]["median_ms"]
        cells = [f"{tokens:,}", f"{group['direct']['body_bytes'] / 1024:,.0f}"]
        cells += [_f(group[n]["median_ms"]) if n in group else "-" for n in names]
        cells += [_f(group[n]["median_ms"] - direct) if n in group else "-" for n in names if n != "direct"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines

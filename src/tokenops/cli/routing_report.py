"""Tables of `tokenops routing evaluate`: the router beside random and oracle, per kind, and the curve."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from tokenops.cli.common import console as wide_console

SAVINGS = "savings_at_95pct_strong_accuracy"


def pct(value: object) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, float | int) else "—"


def _apgr(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float | int) else "—"


def summary_table(report: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    for name in ("router", "CPT(50%)", "CPT(80%)", "CPT(95%)", "APGR", "savings at 95% strong"):
        table.add_column(name, justify="left" if name == "router" else "right")
    for label, figures in (("complexity router", report), ("random", report["random"]), ("oracle", report["oracle"])):
        table.add_row(
            label,
            pct(figures["cpt50"]),
            pct(figures["cpt80"]),
            pct(figures["cpt95"]),
            _apgr(figures["apgr"]),
            pct(figures[SAVINGS]),
        )
    return table


def kinds_table(kinds: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    columns = ("kind", "n", "weak", "strong", "APGR", "random APGR", "savings at 95%", "random savings", "oracle")
    for name in columns:
        table.add_column(name, justify="left" if name == "kind" else "right")
    with_point = any("operating_point" in r for r in kinds.values())
    if with_point:
        for name in ("strong share", "quality of strong", "threshold"):
            table.add_column(name, justify="right")
    for kind, r in kinds.items():
        cells = [
            kind,
            f"{r['n']:,}",
            f"{r['weak_accuracy']:.3f}",
            f"{r['strong_accuracy']:.3f}",
            _apgr(r["apgr"]),
            _apgr(r["random"]["apgr"]),
            pct(r[SAVINGS]),
            pct(r["random"][SAVINGS]),
            pct(r["oracle"][SAVINGS]),
        ]
        if with_point:
            point = r.get("operating_point") or {}
            threshold = point.get("threshold")
            cells += [
                pct(point.get("strong_share")),
                pct(point.get("quality_of_strong")),
                "—" if threshold is None else f"{threshold:.4f}",
            ]
        table.add_row(*cells)
    return table


def curve_table(report: dict[str, Any]) -> Table:
    curve = Table(title="Cost-quality curve")
    for name in ("strong share", "quality", "gap recovered", "threshold"):
        curve.add_column(name, justify="right")
    for point in report["curve"]:
        threshold = point["threshold"]
        curve.add_row(
            pct(point["strong_share"]),
            f"{point['quality']:.4f}",
            pct(point["pgr"]),
            "—" if threshold is None else f"{threshold:.4f}",
        )
    return curve


def operating_line(point: dict[str, Any]) -> str:
    target = (
        f"{pct(point['target_quality'])} of the strong model's quality"
        if point.get("target_quality") is not None
        else f"at most {pct(point['target_strong_share'])} strong calls"
    )
    if point.get("threshold") is None and not point.get("reached"):
        return f"operating point for {target}: not reachable on this data, even with every call strong"
    return (
        f"operating point for {target}: threshold {point['threshold']}, "
        f"{pct(point['strong_share'])} strong calls, {pct(point['quality_of_strong'])} of the strong model's quality"
        + ("" if point["reached"] else " (target not reached)")
    )


def print_report(report: dict[str, Any]) -> None:
    console = wide_console()
    source = report.get("dataset") or report.get("traffic") or report.get("corpus")
    console.print(
        f"[bold]{source}[/bold]: {report['training_prompts_excluded']:,} training prompts left out — "
        f"evaluated on {report['scope']}: n = {report['n']:,}"
    )
    if "weak" in report:
        console.print(
            f"weak ({report['weak']}) quality {report['weak_accuracy']:.4f}, "
            f"strong ({report['strong']}) {report['strong_accuracy']:.4f}"
        )
    console.print(
        summary_table(report, "Share of strong calls needed (lower is better); APGR and savings higher is better")
    )
    if "kinds" in report:
        console.print(kinds_table(report["kinds"], "Per kind of prompt"))
    console.print(curve_table(report))
    if "operating_point" in report:
        console.print(operating_line(report["operating_point"]))


def print_transfer(report: dict[str, Any]) -> None:
    console = wide_console()
    console.print(
        f"[bold]Held-out kinds[/bold] ({report['corpus']}): for each kind, a router of the same recipe "
        f"({report['recipe']['feature_set']} features, target {report['recipe']['target']}) trained on every "
        f"other kind, judged on this one"
    )
    console.print(kinds_table(report["held_out_kinds"], "Held-out kinds (never in training)"))
    for group, sub in report["held_out_kinds"].items():
        if "kinds" in sub:
            console.print(kinds_table(sub["kinds"], f"Held out together ({group}): each kind within the mixture"))
    held = report["held_out_kinds"]
    judged = list(held.items())
    judged += [(f"{k} (in {g})", r) for g, sub in held.items() for k, r in sub.get("kinds", {}).items()]
    below = [k for k, r in judged if r["apgr"] is not None and r["apgr"] < (r["random"]["apgr"] or 0.0)]
    console.print("below random (APGR) on: " + (", ".join(below) if below else "no kind"))

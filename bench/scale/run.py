"""The operator-scale benchmark: per catalog size and store, first start (seeds), restart, RSS, /metrics
series, dashboard and admin API latency, and the month-end invoice run. Writes bench/results/scale-DATE.md.
With --verify-records N, instead: a month of N usage records with their charges, a full and an incremental
`ledger verify` (the month's last day), the month's reconcile and the month-end invoice run. Writes
bench/results/verify-DATE.md.

    .venv/bin/python bench/scale/run.py [--sizes 1000,10000,37000] [--pg postgresql://postgres@127.0.0.1/postgres]
    .venv/bin/python bench/scale/run.py --sizes 37000 --verify-records 1000000 [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.scale.catalog import write_catalog  # noqa: E402
from bench.scale.invoices import invoice_run_s  # noqa: E402
from bench.scale.startup import Gateway, environment, metric_series, rss_mb, start  # noqa: E402
from bench.scale.verify import run as verify_run  # noqa: E402

TOKEN = "adm-bench-operator"


def _latency_ms(gw: Gateway, path: str, n: int = 20) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        gw.get(path, TOKEN)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _invoice_run_s(home: Path, env: dict[str, str]) -> float:
    return invoice_run_s(home, env, dt.datetime.now(dt.UTC).strftime("%Y-%m"), home / "invoices.jsonl")


def measure(tenants: int, store: str, pg: str | None, work: Path) -> dict[str, object]:
    catalog = write_catalog(work / f"operator-{tenants}.yaml", tenants)
    home = work / f"home-{store}-{tenants}"
    home.mkdir()
    env = environment(pg if store == "postgresql" else None, f"bench_scale_{tenants}_{os.getpid()}")
    row: dict[str, object] = {"tenants": tenants, "store": store, "yaml_mb": round(catalog.stat().st_size / 1e6, 1)}
    gw = start(catalog, home, env)
    row["first_start_s"] = round(gw.ready_s, 2)
    row["first_rss_mb"] = round(rss_mb(gw.proc.pid))
    gw.stop()
    gw = start(catalog, home, env)
    row["restart_s"] = round(gw.ready_s, 2)
    row["rss_mb"] = round(rss_mb(gw.proc.pid))
    row["metrics_series"] = metric_series(gw)
    row["dashboard_overview_ms"] = round(_latency_ms(gw, "/dashboard/api/overview"), 1)
    row["dashboard_search_ms"] = round(_latency_ms(gw, "/dashboard/api/tenants?q=01234"), 1)
    row["admin_accounts_ms"] = round(_latency_ms(gw, "/admin/accounts/t00007"), 1)
    gw.stop()
    row["invoice_all_s"] = round(_invoice_run_s(home, env), 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,37000")
    parser.add_argument("--pg", help="also on PostgreSQL at this DSN (a schema per run, dropped with the database)")
    parser.add_argument("--verify-records", type=int, help="measure ledger verify and reconcile on this many records")
    parser.add_argument("--repeat", type=int, default=3, help="with --verify-records: runs per figure (the median)")
    parser.add_argument("--stores", help="with --verify-records: sqlite, postgresql or both (default: as --pg says)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.verify_records:
        verify_figures(args, sizes)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("sqlite", *(["postgresql"] if args.pg else [])):
            for n in sizes:
                row = measure(n, store, args.pg, Path(tmp))
                print(row, flush=True)
                rows.append(row)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    names = list(rows[0])
    lines = [f"# Operator scale, {dt.date.today()} (commit {commit})", "",
             f"Command: `.venv/bin/python bench/scale/run.py --sizes {args.sizes}"
             + (" --pg …`" if args.pg else "`"), "",
             "2-core machine shared with other work: read the figures as orders of magnitude. No usage records "
             "were generated (the invoice run reads accounts with no charges).", "",
             "| " + " | ".join(names) + " |", "|" + "---|" * len(names)]  # fmt: skip
    lines += ["| " + " | ".join(str(r[k]) for k in names) + " |" for r in rows]
    out = ROOT / "bench" / "results" / f"scale-{dt.date.today()}.md"
    out.write_text("\n".join(lines) + "\n")
    print(out)


def verify_figures(args: argparse.Namespace, sizes: list[int]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for store in (args.stores or ",".join(("sqlite", *(["postgresql"] if args.pg else [])))).split(","):
            for n in sizes:
                row = verify_run(n, args.verify_records, store, Path(tmp), args.repeat, args.pg)
                print(row, flush=True)
                rows.append(row)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    names = list(rows[0])
    lines = [f"# Ledger verify and reconcile at scale, {dt.date.today()} (commit {commit})", "",
             f"Command: `.venv/bin/python bench/scale/run.py --sizes {args.sizes} --verify-records "
             f"{args.verify_records} --repeat {args.repeat}" + (" --pg …" if args.pg else "")
             + (f" --stores {args.stores}`" if args.stores else "`"), "",
             "| " + " | ".join(names) + " |", "|" + "---|" * len(names)]  # fmt: skip
    lines += ["| " + " | ".join(str(r[k]) for k in names) + " |" for r in rows]
    out = ROOT / "bench" / "results" / f"verify-{dt.date.today()}.md"
    out.write_text("\n".join(lines) + "\n")
    print(out)


if __name__ == "__main__":
    main()

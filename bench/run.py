"""`make bench`: direct, the Python floor, tokenops, Portkey and LiteLLM on one fake upstream, in one run.

Results to bench/results/.

The load generator (this process) and the fake upstream share core 0; the gateway under
test runs alone on core 1. Cells (target x mode x concurrency) are interleaved round by
round so background load on the machine hits every target alike; figures are medians
over rounds.

    .venv/bin/python bench/run.py            # full run (~10 minutes)
    .venv/bin/python bench/run.py --quick    # smoke run (~1-2 minutes)
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import portkey_setup
import report
import uvloop
from litellm_setup import LITELLM_VERSION, SetupFailed, ensure_litellm, litellm_config
from measure import CellSpec, machine_facts, run_cell, run_sizes
from targets import (
    BENCH,
    LITELLM_KEY,
    REPO,
    Target,
    start_fake_upstream,
    start_floor,
    start_litellm,
    start_portkey,
    start_tokenops,
)

CLIENT_CORE = 0
GATEWAY_CORE = 1


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int
    seconds: float
    warmup_s: float
    concurrency: tuple[int, ...]
    modes: tuple[str, ...]
    size_tokens: tuple[int, ...]
    size_reps: int
    litellm_rounds: int  # LiteLLM's cells at high concurrency take ~30 s each: fewer rounds keep the run bounded


SIZES = (1_000, 10_000, 100_000, 200_000)
FULL = Plan(3, 2.5, 0.5, (1, 16, 64, 256), ("chat", "stream"), SIZES, 15, 2)
QUICK = Plan(1, 1.0, 0.3, (1, 16, 64, 256), ("chat", "stream"), SIZES, 5, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _select(target: Target, gateways: list[Target]) -> None:
    """Only `target` runs (direct: no gateway runs)."""
    for gw in gateways:
        if gw is not target:
            gw.pause()
    target.resume()


async def _measure_all(plan: Plan, targets: list[Target], gateways: list[Target], client: list[int]) -> list[Any]:
    cells = []
    for round_no in range(plan.rounds):
        for mode in plan.modes:
            for conc in plan.concurrency:
                for target in targets:
                    if (target.name == "litellm" and round_no >= plan.litellm_rounds) or mode not in target.modes:
                        continue
                    _select(target, gateways)
                    spec = CellSpec(mode, conc, plan.warmup_s, plan.seconds)
                    cell = await run_cell(target, spec, client, round_no)
                    cells.append(cell)
                    cpu = cell["gateway_cpu_ms_per_req"]
                    print(
                        f"  round {round_no + 1}/{plan.rounds} {mode:6} c={conc:<3} {target.name:8} "
                        f"{cell['rps']:8.0f} req/s  p50 {cell['p50_ms']:8.2f} ms  p99 {cell['p99_ms']:8.2f} ms  "
                        f"cpu/req {'' if cpu is None else f'{cpu:.3f} ms'}  errors {cell['errors']}",
                        flush=True,
                    )
    for gw in gateways:
        gw.resume()
    return cells


def _versions(litellm_ok: bool, portkey_ok: bool) -> dict[str, str]:
    out = {"python": platform.python_version(), "kernel": platform.release()}
    for name in ("tokenops", "uvicorn", "uvloop", "httptools", "aiohttp", "orjson"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True, check=False)
    out["tokenops_commit"] = head.stdout.strip() + (" (src/ has uncommitted changes)" if dirty.stdout.strip() else "")
    if litellm_ok:
        out["litellm"] = LITELLM_VERSION
    if portkey_ok:
        out["portkey"] = portkey_setup.PORTKEY_VERSION
    return out


def _notes(summary: list[dict[str, Any]], litellm_note: str) -> list[str]:
    notes = []
    index = {(r["target"], r["mode"], r["concurrency"]): r for r in summary}
    others = [r["other_cpu_busy"] for r in summary if r["other_cpu_busy"] is not None]
    if others:
        notes.append(
            f"Noise: processes outside the benchmark used a median {report._pct(sorted(others)[len(others) // 2])} "
            f"and at most {report._pct(max(others))} of one core during the cells (2-core machine shared with other "
            "work); figures are medians over rounds and ratios come from the same run."
        )
    for mode in ("chat", "stream"):
        heads = []
        for (target, m, conc), row in sorted(index.items(), key=lambda kv: kv[0][2]):
            direct = index.get(("direct", m, conc))
            if target != "tokenops" or m != mode or direct is None:
                continue
            headroom = direct["rps"] / row["rps"] if row["rps"] else float("inf")
            heads.append(f"c={conc}: direct {headroom:.1f}x tokenops")
            if headroom < 1.5 and conc > 1:
                notes.append(
                    f"{mode} c={conc}: direct is only {headroom:.1f}x tokenops' throughput — the load generator and "
                    "fake upstream (sharing one core) may limit this cell, so tokenops' req/s is a lower bound."
                )
        if heads:
            notes.append(f"Load-generator headroom ({mode}): " + ", ".join(heads) + ".")
    if litellm_note:
        notes.append(litellm_note)
    return notes


def _markdown(doc: dict[str, Any]) -> str:
    plan = doc["plan"]
    lines = [
        f"# Gateway benchmark — {doc['started'][:10]}",
        "",
        f"Command: `{doc['command']}` — took {doc['duration_s']:.0f} s.",
        "",
        f"Machine: {doc['machine']['nproc']} cores ({doc['machine']['cpu']}), load average at start "
        f"{doc['machine']['loadavg_at_start']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in doc["versions"].items())
        + ".",
        "",
        "Set-up: one fake OpenAI-compatible upstream (bench/fake_upstream.py: 32-token replies, 32-token SSE "
        "streams with a usage chunk, prebuilt bytes) and the load generator (bench/loadgen.py: raw asyncio + "
        "httptools, keep-alive, closed loop) share core 0; the gateway under test runs alone on core 1; idle "
        "gateways are paused (SIGSTOP) while another is measured. tokenops runs with its embedded SQLite store "
        "(every usage record durable before the last byte); LiteLLM with a master key, no database, "
        "LITELLM_LOCAL_MODEL_COST_MAP=True. Streams ask for `stream_options.include_usage`.",
        "",
        f"Each cell: {plan['warmup_s']} s warm-up, then {plan['seconds']} s of requests plus the drain of those in "
        f"flight; {plan['rounds']} round(s) ({plan['litellm_rounds']} for LiteLLM), cells interleaved; "
        "figures are medians over rounds. 'added' = target "
        "minus direct at the same concurrency. Gateway CPU = utime+stime of the gateway's process tree "
        "(/proc/PID/stat) over the measured window ÷ requests completed in it. 'core busy' = CPU seconds ÷ wall "
        "seconds (100% = one core saturated). RSS = peak resident set of the gateway tree during the cell.",
        "",
        "## Non-streaming chat completions (32 output tokens)",
        "",
        *report.load_table(doc["summary"], "chat"),
        "",
        "## Streaming chat completions (32 chunks + usage chunk)",
        "",
        "Latency here is the whole stream (first byte sent to [DONE]); TTFB is the first SSE event.",
        "",
        *report.load_table(doc["summary"], "stream"),
        "",
    ]
    lines += [
        "## Against the Python floor (gateway CPU per request ÷ the floor's, same run)",
        "",
        "The floor (bench/floor_proxy.py) parses the body, checks the key, forwards on a pooled aiohttp "
        "session, reads the usage and relays the answer: what any gateway must do, with no features.",
        "",
        *report.floor_table(doc["summary"]),
        "",
    ]
    for peer, title in (("portkey", "Portkey's gateway"), ("litellm", "LiteLLM")):
        rows = [r for r in doc["ratios"] if r["peer"] == peer]
        if rows:
            lines += [f"## tokenops vs {title} (x = how many times better tokenops is; below 1: worse)", ""]
            lines += [*report.ratio_table(rows), ""]
    if doc["sizes"]:
        lines += [
            "## Size: one non-streaming request at a time, growing prompts",
            "",
            f"Median of {plan['size_reps']} requests per size (targets interleaved); ~4 bytes of JSON per token; "
            "tokenops serves them for a second tenant, so per-key state left by the load cells does not carry over.",
            "",
            *report.size_table(doc["sizes"]),
            "",
        ]
    lines += ["## Notes", "", *(f"- {n}" for n in doc["notes"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (~1-2 minutes)")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM (no install, no cells)")
    parser.add_argument("--no-portkey", action="store_true", help="skip Portkey's gateway (no install, no cells)")
    parser.add_argument("--no-sizes", action="store_true", help="skip the size benchmark")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--seconds", type=float, help="override the measured seconds per cell")
    parser.add_argument("--concurrency", help="comma-separated concurrencies (default 1,16,64,256)")
    parser.add_argument("--out", default=str(BENCH / "results"), help="folder for the .md and .json results")
    parser.add_argument("--name", help="file name stem (default gateway-YYYY-MM-DD[-quick])")
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    plan = Plan(
        rounds=args.rounds or plan.rounds,
        seconds=args.seconds or plan.seconds,
        warmup_s=plan.warmup_s,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")) if args.concurrency else plan.concurrency,
        modes=plan.modes,
        size_tokens=() if args.no_sizes else plan.size_tokens,
        size_reps=plan.size_reps,
        litellm_rounds=min(args.rounds or plan.litellm_rounds, plan.litellm_rounds),
    )
    two_cores = (os.cpu_count() or 1) >= 2
    client_core = CLIENT_CORE if two_cores else None
    gateway_core = GATEWAY_CORE if two_cores else None
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    work = BENCH / ".work"
    started = datetime.now(UTC)
    t0 = time.monotonic()

    litellm_cmd: Path | None = None
    litellm_note = "" if two_cores else "Only one core: nothing could be pinned apart; figures are not comparable."
    if args.no_litellm:
        litellm_note = "LiteLLM skipped (--no-litellm)."
    else:
        try:
            litellm_cmd = ensure_litellm(work)
        except SetupFailed as exc:
            litellm_note = f"LiteLLM {LITELLM_VERSION} could not be installed, so it was not measured: {exc}"
            print(litellm_note, file=sys.stderr)

    portkey: tuple[Path, Path] | None = None
    portkey_note = ""
    if args.no_portkey:
        portkey_note = "Portkey skipped (--no-portkey)."
    else:
        try:
            portkey = portkey_setup.ensure_portkey(work)
        except portkey_setup.SetupFailed as exc:
            portkey_note = (
                f"Portkey {portkey_setup.PORTKEY_VERSION} could not be installed, so it was not measured: {exc}"
            )
            print(portkey_note, file=sys.stderr)

    upstream_port = _free_port()
    fake = start_fake_upstream(upstream_port, work, client_core)
    direct = Target("direct", upstream_port, None)
    gateways: list[Target] = []
    try:
        print("starting the floor and tokenops ...", flush=True)
        gateways.append(start_floor(_free_port(), upstream_port, work, gateway_core))
        gateways.append(start_tokenops(_free_port(), upstream_port, work, gateway_core))
        if portkey is not None:
            print("starting Portkey ...", flush=True)
            try:
                gateways.append(start_portkey(*portkey, _free_port(), upstream_port, work, gateway_core))
            except RuntimeError as exc:
                portkey_note = f"Portkey did not start, so it was not measured: {exc}"
                print(portkey_note, file=sys.stderr)
        if litellm_cmd is not None:
            print("starting LiteLLM ...", flush=True)
            try:
                config = litellm_config(upstream_port, LITELLM_KEY)
                gateways.append(start_litellm(litellm_cmd, config, _free_port(), work, gateway_core))
            except RuntimeError as exc:
                litellm_note = f"LiteLLM did not start, so it was not measured: {exc}"
                print(litellm_note, file=sys.stderr)
        targets = [direct, *gateways]
        assert fake.process is not None
        client_pids = [os.getpid(), fake.process.pid]
        print(f"measuring {', '.join(t.name for t in targets)} ...", flush=True)
        cells = uvloop.run(_measure_all(plan, targets, gateways, client_pids))
        sizes: list[dict[str, Any]] = []
        if plan.size_tokens:
            print("size benchmark ...", flush=True)
            sizes = uvloop.run(run_sizes(targets, list(plan.size_tokens), plan.size_reps))
    finally:
        for gw in gateways:
            gw.stop()
        fake.stop()

    summary = report.summarise(cells)
    stem = args.name or f"gateway-{started:%Y-%m-%d}" + ("-quick" if args.quick else "")
    rel = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else sys.executable
    doc = {
        "command": " ".join([rel, "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "started": started.isoformat(timespec="seconds"),
        "duration_s": time.monotonic() - t0,
        "machine": machine_facts(),
        "versions": _versions(*(any(g.name == n for g in gateways) for n in ("litellm", "portkey"))),
        "plan": _plan_dict(plan),
        "summary": summary,
        "ratios": [r for peer in report.PEERS for r in report.ratios(summary, peer)],
        "sizes": sizes,
        "cells": cells,
    }
    peer_notes = [portkey_note, litellm_note, *(g.note for g in gateways)]
    doc["notes"] = _notes(summary, " ".join(n for n in peer_notes if n))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    markdown = _markdown(doc)
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)
    print(f"written: {out / stem}.md and .json")
    return 0


def _plan_dict(plan: Plan) -> dict[str, Any]:
    return {name: getattr(plan, name) for name in Plan.__dataclass_fields__}


if __name__ == "__main__":
    sys.exit(main())

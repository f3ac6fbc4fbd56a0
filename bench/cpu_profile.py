"""Profile tokenops under load with py-spy: where the gateway's CPU goes per request.

Starts the fake upstream and tokenops exactly as bench/run.py does, drives chat and
stream load at one concurrency, samples the gateway with `py-spy record` (collapsed
stacks), and writes a summary (top functions by self and inclusive time, time per
area of code) to bench/results/profile-YYYY-MM-DD.md, the raw stacks beside it in
bench/.work/.

    .venv/bin/python bench/cpu_profile.py [--seconds 15] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import procstat
import uvloop
from loadgen import LoadGenerator, build_request
from targets import BENCH, Target, start_fake_upstream, start_tokenops
from workload import chat_body

PROF_VENV = BENCH / ".work" / "prof-venv"
AREAS = (  # first match on the frame's file wins
    ("tokenops/store", "tokenops: SQLite store"),
    ("tokenops/gateway/settle", "tokenops: settle (group commit)"),
    ("tokenops/providers", "tokenops: provider adapter"),
    ("tokenops/", "tokenops: gateway path"),
    ("uvicorn/", "uvicorn (HTTP server)"),
    ("aiohttp/", "aiohttp (upstream client)"),
    ("asyncio/", "asyncio"),
    ("sqlite3", "sqlite3"),
    ("concurrent/futures", "thread pool"),
    ("threading.py", "threading"),
)


_IDLE_LEAF = "_worker (concurrent/futures/thread.py)"


def ensure_py_spy() -> Path:
    exe = PROF_VENV / "bin" / "py-spy"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PROF_VENV)], check=True)
        subprocess.run([str(PROF_VENV / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    return exe


async def drive(target: Target, stream: bool, concurrency: int, seconds: float) -> tuple[int, float]:
    request = build_request("127.0.0.1", target.port, "/v1/chat/completions", chat_body(stream), target.token)
    gen = LoadGenerator("127.0.0.1", target.port, request, stream, concurrency)
    try:
        await gen.phase(1.0)
        before = procstat.sample(target.pids()).cpu_s
        result = await gen.phase(seconds)
        cpu = procstat.sample(target.pids()).cpu_s - before
    finally:
        await gen.close()
    return len(result.samples), cpu


def _frame_name(frame: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (file path relative to site-packages or src)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def _area(frame: str) -> str:
    for needle, label in AREAS:
        if needle in frame:
            return label
    return "other (C extensions, interpreter)"


def summarise(raw: Path, top: int = 25) -> tuple[int, list[str]]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if " (" in f]
        if not frames or frames[-1].startswith(_IDLE_LEAF):
            continue  # a pool thread waiting for work: py-spy does not always see it as idle
        total += count
        self_time[frames[-1]] += count
        areas[_area(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f}%"

    lines = ["| area (by the frame on top) | self % |", "|---|---|"]
    lines += [f"| {name} | {pct(n)} |" for name, n in areas.most_common()]
    lines += ["", f"Top {top} functions by self time:", "", "| function | self % |", "|---|---|"]
    lines += [f"| `{name}` | {pct(n)} |" for name, n in self_time.most_common(top)]
    lines += ["", f"Top {top} functions by inclusive time:", "", "| function | inclusive % |", "|---|---|"]
    lines += [f"| `{name}` | {pct(n)} |" for name, n in inclusive.most_common(top)]
    return total, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--blocking", action="store_true", help="pause the gateway for each sample (slower, exact)")
    args = parser.parse_args()
    py_spy = ensure_py_spy()
    two_cores = (os.cpu_count() or 1) >= 2
    if two_cores:
        os.sched_setaffinity(0, {0})
    work = BENCH / ".work"
    upstream_port, gw_port = 9171, 9172
    fake = start_fake_upstream(upstream_port, work, 0 if two_cores else None)
    gateway = start_tokenops(gw_port, upstream_port, work, 1 if two_cores else None)
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    sections: list[str] = []
    try:
        assert gateway.process is not None
        for stream in (False, True):  # first requests load tokenizers and open pools: not what we profile
            uvloop.run(drive(gateway, stream, args.concurrency, 1.0))
        for mode in ("chat", "stream"):
            raw = work / f"profile-{mode}.txt"
            spy = subprocess.Popen(
                [
                    *(str(py_spy), "record", "--pid", str(gateway.process.pid), "--format", "raw", "--function"),
                    *(() if args.blocking else ("--nonblocking",)),
                    *("--rate", str(args.rate), "--duration", str(int(args.seconds) + 2), "--output", str(raw)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            time.sleep(0.5)
            done, cpu = uvloop.run(drive(gateway, mode == "stream", args.concurrency, args.seconds))
            spy.wait(60)
            total, lines = summarise(raw)
            sections += [
                f"## {'Streaming (32 chunks + usage)' if mode == 'stream' else 'Non-streaming'} chat completions, "
                f"concurrency {args.concurrency}",
                "",
                f"{done} requests in {args.seconds:.0f} s; gateway CPU {cpu * 1000 / max(done, 1):.3f} ms per request "
                f"(under py-spy); {total} busy samples. Percentages are of the gateway's sampled busy time "
                "(pool threads waiting for work excluded).",
                "",
                *lines,
                "",
            ]
    finally:
        gateway.stop()
        fake.stop()
    out = BENCH / "results" / f"profile-{today}.md"
    header = [
        f"# Where tokenops' CPU goes per request — {today}",
        "",
        f"Command: `{os.path.relpath(sys.executable, BENCH.parent)} bench/cpu_profile.py --seconds {args.seconds:g} "
        f"--concurrency {args.concurrency} --rate {args.rate}{' --blocking' if args.blocking else ''}`. "
        f"py-spy {args.rate} Hz, "
        f"{'blocking' if args.blocking else 'non-blocking (the gateway is never paused)'}, "
        "aggregated by function; gateway pinned to core 1, fake upstream and load generator to core 0 "
        "(same set-up as bench/run.py). Raw stacks: bench/.work/profile-*.txt.",
        "",
    ]
    out.write_text("\n".join(header + sections))
    print("\n".join(header + sections))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One measured cell (target x mode x concurrency) and the size benchmark, with the gateway's CPU and memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
from dataclasses import asdict, dataclass
from typing import Any

import procstat
from loadgen import LoadGenerator, build_request
from targets import Target
from workload import chat_body, sized_body

PATH = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class CellSpec:
    mode: str  # "chat" or "stream"
    concurrency: int
    warmup_s: float
    seconds: float


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def _watch_rss(pids: list[int], peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], procstat.sample(pids).rss_bytes)
        await asyncio.sleep(0.25)


async def run_cell(target: Target, spec: CellSpec, client_pids: list[int], round_no: int) -> dict[str, Any]:
    stream = spec.mode == "stream"
    request = build_request("127.0.0.1", target.port, PATH, chat_body(stream), target.token, target.headers)
    gen = LoadGenerator("127.0.0.1", target.port, request, stream, spec.concurrency)
    try:
        await gen.phase(spec.warmup_s)
        pids = target.pids()
        peak = [0]
        watcher = asyncio.create_task(_watch_rss(pids, peak)) if pids else None
        gw0, cl0, all0 = procstat.sample(pids), procstat.sample(client_pids), procstat.machine_busy_s()
        result = await gen.phase(spec.seconds)
        gw1, cl1, all1 = procstat.sample(pids), procstat.sample(client_pids), procstat.machine_busy_s()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        await gen.close()
    done = len(result.samples)
    wall = result.wall_s
    gw_cpu = gw1.cpu_s - gw0.cpu_s
    client_cpu = cl1.cpu_s - cl0.cpu_s
    latencies = [s.latency * 1000 for s in result.samples]
    ttfbs = [s.ttfb * 1000 for s in result.samples]
    return {
        "target": target.name,
        "mode": spec.mode,
        "concurrency": spec.concurrency,
        "round": round_no,
        "requests": done,
        "errors": result.errors,
        "first_error": result.first_error,
        "wall_s": round(wall, 3),
        "rps": done / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "ttfb_p50_ms": percentile(ttfbs, 50),
        "ttfb_p99_ms": percentile(ttfbs, 99),
        "gateway_cpu_ms_per_req": gw_cpu * 1000 / done if pids and done else None,
        "gateway_core_busy": gw_cpu / wall if pids and wall else None,
        "gateway_rss_mb": peak[0] / 2**20 if pids else None,
        "client_core_busy": client_cpu / wall if wall else None,
        "other_cpu_busy": max(0.0, (all1 - all0) - gw_cpu - client_cpu) / wall if wall else None,
    }


def _single(target: Target, body: bytes) -> LoadGenerator:
    request = build_request("127.0.0.1", target.port, PATH, body, target.size_token or target.token, target.headers)
    return LoadGenerator("127.0.0.1", target.port, request, False, 1)


async def run_sizes(targets: list[Target], token_counts: list[int], reps: int, warmup: int = 2) -> list[dict[str, Any]]:
    """Single requests, one at a time, of growing prompts; targets interleaved per repetition."""
    rows: list[dict[str, Any]] = []
    for tokens in token_counts:
        body = sized_body(tokens)
        gens = {t.name: _single(t, body) for t in targets}
        times: dict[str, list[float]] = {t.name: [] for t in targets}
        try:
            for i in range(warmup + reps):
                for t in targets:
                    sample = await gens[t.name].one()
                    if i >= warmup:
                        times[t.name].append(sample.latency * 1000)
        finally:
            for gen in gens.values():
                await gen.close()
        for name, values in times.items():
            rows.append(
                {
                    "target": name,
                    "tokens": tokens,
                    "body_bytes": len(body),
                    "median_ms": statistics.median(values),
                    "min_ms": min(values),
                    "samples_ms": [round(v, 3) for v in values],
                }
            )
    return rows


def machine_facts() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"nproc": os.cpu_count(), "cpu": model, "loadavg_at_start": " ".join(load)}


def as_dict(spec: CellSpec) -> dict[str, Any]:
    return asdict(spec)

"""Replica scaling: 1, 2 and 4 tokenops replicas on PostgreSQL + Redis vs one replica on the embedded store,
and `tokenops serve --workers 2` (one port, the kernel dealing the connections) on one core and on both.

Every configuration serves the same catalog (a charged prepaid tenant, so reservation,
rating and debit are on the measured path) in front of one fast fake upstream. The load
generator spreads its connections round robin over a configuration's replicas (no
balancer process). Cells (configuration x mode x concurrency) are interleaved round by
round; replicas not being measured are paused (SIGSTOP). Results are reported as ratios
to the embedded replica measured in the same round.

The run uses a database and a Redis key prefix of its own, both dropped at the end.

    .venv/bin/python bench/scaleout/replicas.py               # full run (~5 minutes)
    .venv/bin/python bench/scaleout/replicas.py --quick       # smoke run (~1 minute)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))

import asyncpg  # noqa: E402
import orjson  # noqa: E402
import procstat  # noqa: E402
import redis  # noqa: E402
import uvloop  # noqa: E402
from loadgen import LoadGenerator, PhaseResult, build_request  # noqa: E402
from measure import machine_facts, percentile  # noqa: E402
from targets import (  # noqa: E402
    REPO,
    TOKENOPS_KEY,
    Target,
    _spawn,
    _wait_ready,
    start_fake_upstream,
    start_tokenops,
    tokenops_catalog,
)
from workload import chat_body  # noqa: E402

from tokenops.charging.postgres import ChargingPostgres  # noqa: E402
from tokenops.charging.verify import verify_ledger  # noqa: E402
from tokenops.store.postgres import PostgresStore  # noqa: E402

PATH = "/v1/chat/completions"
CLIENT_CORE = 0  # load generator + fake upstream
GATEWAY_CORE = 1  # every replica, whatever the configuration: the gateway CPU budget stays one core
TOKENOPS = REPO / ".venv" / "bin" / "tokenops"
EMBEDDED = "embedded"
STORE_PROCESSES = ("postgres", "redis-server")


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int
    seconds: float
    warmup_s: float
    concurrency: tuple[int, ...]
    modes: tuple[str, ...]
    replicas: tuple[int, ...]


FULL = Plan(3, 3.0, 0.7, (64, 256), ("chat", "stream"), (1, 2, 4))
QUICK = Plan(1, 1.5, 0.5, (64,), ("chat", "stream"), (1, 2, 4))


@dataclass(slots=True)
class Cluster:
    """A configuration under test: the replicas the load generator spreads its connections over."""

    name: str
    replicas: list[Target]

    def pids(self) -> list[int]:
        return [pid for replica in self.replicas for pid in replica.pids()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _store_pids() -> list[int]:
    """PostgreSQL and Redis server processes (read from /proc, only to sum their CPU time)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in STORE_PROCESSES:
            pids.append(int(name))
    return pids


def start_replica(index: int, upstream_port: int, config: Path, work: Path, env: dict[str, str | None]) -> Target:
    """One tokenops replica on the shared PostgreSQL database and Redis prefix."""
    port = _free_port()
    home = work / f"replica-{index}"
    home.mkdir(parents=True, exist_ok=True)
    argv = [str(TOKENOPS), "serve", "--config", str(config), "--port", str(port), "--home", str(home)]
    target = _spawn(f"postgres-{index}", argv, work / f"replica-{index}.log", GATEWAY_CORE, env, REPO)
    target.port, target.token = port, TOKENOPS_KEY
    _wait_ready(target, "/readyz", 60)
    return target


def start_workers(n: int, cores: set[int], upstream_port: int, config: Path, work: Path,
                  env: dict[str, str | None]) -> Target:  # fmt: skip
    """`tokenops serve --workers n` on the shared stores, its workers pinned to `cores`."""
    port = _free_port()
    home = work / f"workers-{n}-{len(cores)}"
    home.mkdir(parents=True, exist_ok=True)
    argv = [str(TOKENOPS), "serve", "--workers", str(n), "--config", str(config), "--port", str(port),
            "--home", str(home)]  # fmt: skip
    name = f"workers x{n}, {len(cores)} core{'s' if len(cores) > 1 else ''}"
    target = _spawn(name, argv, work / f"workers-{n}-{len(cores)}.log", None, env, REPO)
    assert target.process is not None
    os.sched_setaffinity(target.process.pid, cores)  # the workers it starts inherit the cores
    target.port, target.token = port, TOKENOPS_KEY
    _wait_ready(target, "/readyz", 60)
    deadline = time.monotonic() + 60
    while len(procstat.descendants(target.process.pid)) < n + 1:  # the parent and each worker
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the workers did not all start")
        time.sleep(0.2)
    time.sleep(2)  # the later workers load their catalog
    target._pids = []
    return target


def _select(cluster: Cluster, gateways: list[Target]) -> None:
    """Only the cluster's replicas run."""
    active = {id(r) for r in cluster.replicas}
    for gw in gateways:
        if id(gw) not in active:
            gw.pause()
    for replica in cluster.replicas:
        replica.resume()


async def _phase(gens: list[LoadGenerator], seconds: float) -> PhaseResult:
    parts = await asyncio.gather(*(gen.phase(seconds) for gen in gens))
    out = PhaseResult(wall_s=max(p.wall_s for p in parts))
    for part in parts:
        out.samples.extend(part.samples)
        out.errors += part.errors
        out.first_error = out.first_error or part.first_error
    return out


async def run_cell(
    cluster: Cluster, mode: str, concurrency: int, plan: Plan, client_pids: list[int], round_no: int
) -> dict[str, Any]:
    """`concurrency` keep-alive connections, dealt round robin over the cluster's replicas."""
    stream = mode == "stream"
    n = len(cluster.replicas)
    gens = []
    for i, replica in enumerate(cluster.replicas):
        request = build_request("127.0.0.1", replica.port, PATH, chat_body(stream), replica.token)
        share = concurrency // n + (1 if i < concurrency % n else 0)
        gens.append(LoadGenerator("127.0.0.1", replica.port, request, stream, share))
    try:
        await _phase(gens, plan.warmup_s)
        gw_pids, store_pids = cluster.pids(), _store_pids()
        gw0, st0, cl0 = procstat.sample(gw_pids), procstat.sample(store_pids), procstat.sample(client_pids)
        all0 = procstat.machine_busy_s()
        result = await _phase(gens, plan.seconds)
        gw1, st1, cl1 = procstat.sample(gw_pids), procstat.sample(store_pids), procstat.sample(client_pids)
        all1 = procstat.machine_busy_s()
    finally:
        for gen in gens:
            await gen.close()
    done, wall = len(result.samples), result.wall_s
    gw_cpu, store_cpu, client_cpu = gw1.cpu_s - gw0.cpu_s, st1.cpu_s - st0.cpu_s, cl1.cpu_s - cl0.cpu_s
    latencies = [s.latency * 1000 for s in result.samples]
    return {
        "config": cluster.name,
        "replicas": n if gw_pids else 0,
        "mode": mode,
        "concurrency": concurrency,
        "round": round_no,
        "requests": done,
        "errors": result.errors,
        "first_error": result.first_error,
        "wall_s": round(wall, 3),
        "rps": done / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "gateway_cpu_ms_per_req": gw_cpu * 1000 / done if gw_pids and done else None,
        "gateway_core_busy": gw_cpu / wall if gw_pids and wall else None,
        "store_cpu_ms_per_req": store_cpu * 1000 / done if done else None,
        "client_core_busy": client_cpu / wall if wall else None,
        "machine_busy": (all1 - all0) / wall if wall else None,
    }


async def measure_all(plan: Plan, clusters: list[Cluster], gateways: list[Target], client: list[int]) -> list[Any]:
    cells = []
    for round_no in range(plan.rounds):
        for mode in plan.modes:
            for conc in plan.concurrency:
                for cluster in clusters:
                    _select(cluster, gateways)
                    await asyncio.sleep(0.3)  # let resumed replicas catch up on their timers
                    cell = await run_cell(cluster, mode, conc, plan, client, round_no)
                    cells.append(cell)
                    cpu = cell["gateway_cpu_ms_per_req"]
                    print(
                        f"  round {round_no + 1}/{plan.rounds} {mode:6} c={conc:<3} {cluster.name:11} "
                        f"{cell['rps']:7.0f} req/s  p50 {cell['p50_ms']:7.2f} ms  p99 {cell['p99_ms']:7.2f} ms  "
                        f"gw cpu/req {'' if cpu is None else f'{cpu:.3f} ms'}  "
                        f"store cpu/req {cell['store_cpu_ms_per_req'] or 0:.3f} ms  errors {cell['errors']}",
                        flush=True,
                    )
                    await asyncio.sleep(0.5)  # the group commit of the last requests lands before a pause
    for gw in gateways:
        gw.resume()
    return cells


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(cells: list[dict[str, Any]], configs: list[str]) -> list[dict[str, Any]]:
    """Per configuration x mode x concurrency: medians over rounds of the absolute figures, and of the
    per-round ratios to the embedded replica (added latency = minus the upstream alone, same round)."""
    by_key: dict[tuple[str, str, int, int], dict[str, Any]] = {
        (c["config"], c["mode"], c["concurrency"], c["round"]): c for c in cells
    }
    rows = []
    groups = sorted({(c["mode"], c["concurrency"]) for c in cells})
    for mode, conc in groups:
        for config in configs:
            mine = [c for c in cells if c["config"] == config and c["mode"] == mode and c["concurrency"] == conc]
            ratios: dict[str, list[float | None]] = {"rps": [], "added_p50": [], "added_p99": [], "cpu": []}
            added: dict[str, list[float | None]] = {"p50": [], "p99": []}
            for cell in mine:
                direct = by_key.get(("direct", mode, conc, cell["round"]))
                base = by_key.get((EMBEDDED, mode, conc, cell["round"]))
                if direct is None or base is None:
                    continue
                for q in ("p50", "p99"):
                    ours = cell[f"{q}_ms"] - direct[f"{q}_ms"]
                    theirs = base[f"{q}_ms"] - direct[f"{q}_ms"]
                    added[q].append(ours)
                    ratios[f"added_{q}"].append(ours / theirs if theirs > 0 else None)
                ratios["rps"].append(cell["rps"] / base["rps"] if base["rps"] else None)
                cpu, base_cpu = cell["gateway_cpu_ms_per_req"], base["gateway_cpu_ms_per_req"]
                ratios["cpu"].append(cpu / base_cpu if cpu is not None and base_cpu else None)
            row: dict[str, Any] = {
                "config": config,
                "mode": mode,
                "concurrency": conc,
                "rounds": len(mine),
                "requests": sum(c["requests"] for c in mine),
                "errors": sum(c["errors"] for c in mine),
                "first_error": next((c["first_error"] for c in mine if c["first_error"]), ""),
            }
            for metric in ("rps", "p50_ms", "p99_ms", "gateway_cpu_ms_per_req", "gateway_core_busy"):
                row[metric] = _median([c[metric] for c in mine])
            for metric in ("store_cpu_ms_per_req", "client_core_busy", "machine_busy"):
                row[metric] = _median([c[metric] for c in mine])
            row["added_p50_ms"], row["added_p99_ms"] = _median(added["p50"]), _median(added["p99"])
            for name, values in ratios.items():
                row[f"{name}_ratio"] = _median(values)
            rows.append(row)
    return rows


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def _table(rows: list[dict[str, Any]], mode: str, conc: int) -> list[str]:
    lines = [
        "| configuration | throughput x | added p50 x | added p99 x | gateway CPU/req (Σ replicas) | CPU/req x "
        "| PG+Redis CPU/req | req/s | added p50 / p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["mode"] != mode or r["concurrency"] != conc or r["config"] == "direct":
            continue
        lines.append(
            f"| {r['config']} | {_fmt(r['rps_ratio'], '.2f')} | {_fmt(r['added_p50_ratio'], '.2f')} "
            f"| {_fmt(r['added_p99_ratio'], '.2f')} | {_fmt(r['gateway_cpu_ms_per_req'], '.3f', ' ms')} "
            f"| {_fmt(r['cpu_ratio'], '.2f')} | {_fmt(r['store_cpu_ms_per_req'], '.3f', ' ms')} "
            f"| {_fmt(r['rps'], ',.0f')} | {_fmt(r['added_p50_ms'], '.1f')} / {_fmt(r['added_p99_ms'], '.1f')} "
            f"| {r['errors']} |"
        )
    direct = next((r for r in rows if r["mode"] == mode and r["concurrency"] == conc and r["config"] == "direct"), None)
    if direct is not None:
        lines += [
            "",
            f"Upstream alone (no gateway): {direct['rps']:,.0f} req/s, p50 {direct['p50_ms']:.1f} ms, "
            f"p99 {direct['p99_ms']:.1f} ms.",
        ]
    return lines


def _markdown(doc: dict[str, Any]) -> str:
    plan, machine = doc["plan"], doc["machine"]
    lines = [
        f"# Replica scaling on PostgreSQL + Redis — {doc['started'][:10]}",
        "",
        f"Command: `{doc['command']}` — took {doc['duration_s']:.0f} s.",
        "",
        f"Machine: {machine['nproc']} cores ({machine['cpu']}), load average at start {machine['loadavg_at_start']}; "
        f"PostgreSQL {doc['versions'].get('postgresql', '?')} and Redis {doc['versions'].get('redis', '?')} on "
        "127.0.0.1. Versions: "
        + ", ".join(f"{k} {v}" for k, v in doc["versions"].items() if k not in ("postgresql", "redis"))
        + ".",
        "",
        "**Two cores are shared by everything**: the load generator and the fake upstream are pinned to core 0, "
        "every tokenops replica (1, 2 or 4 of them, or the embedded one) to core 1, and PostgreSQL and Redis run "
        "unpinned on both. The gateway's CPU budget is therefore one core in every configuration but the last: "
        "these figures show what the shared stores and splitting the load cost, not how far more machines would "
        "scale. `workers x2, 2 cores` is one `tokenops serve --workers 2` whose workers may use both cores, which "
        "they share with the load generator, the upstream and the stores: its throughput against `postgres x1` "
        "(one worker) is the gain of a second core on this machine, a lower bound of what a host with free cores "
        "gets. Read the ratios, not the absolutes; on real hardware, replicas x cores / gateway CPU per request "
        "bounds throughput.",
        "",
        "Set-up: each configuration serves the catalog of `bench/targets.py` (one model, a charged prepaid tenant: "
        "every request is reserved against its balance, rated and debited, so credit control is on the measured "
        "path). The embedded replica keeps its SQLite file; the PostgreSQL replicas share one database made for "
        "this run (schema `" + doc["schema"] + "`) and one Redis prefix (credit leases, limits, catalog "
        "announcements), both dropped at the end; the first replica seeds them from the catalog. The load "
        "generator (bench/loadgen.py, closed loop, keep-alive) deals its connections round robin over the "
        "replicas; replicas of other configurations are paused (SIGSTOP) while one is measured.",
        "",
        f"Each cell: {plan['warmup_s']} s warm-up, then {plan['seconds']} s of requests plus the drain of those in "
        f"flight; {plan['rounds']} round(s), configurations interleaved within each round. Ratios are to the "
        "embedded replica in the same round (x > 1: more throughput, or more added latency / CPU), medians over "
        "rounds. Added latency = minus the upstream alone at the same concurrency. Gateway CPU = utime+stime of "
        "every active replica's process tree / requests completed; PG+Redis CPU the same for the server "
        "processes (shared with nothing else in the run, but other databases on the server count too).",
        "",
    ]
    for mode in plan["modes"]:
        for conc in plan["concurrency"]:
            title = "Non-streaming (32 output tokens)" if mode == "chat" else "Streaming (32 chunks + usage chunk)"
            lines += [f"## {title}, concurrency {conc}", "", *_table(doc["summary"], mode, conc), ""]
    lines += ["## Notes", "", *(f"- {n}" for n in doc["notes"]), ""]
    return "\n".join(lines)


def _notes(doc: dict[str, Any]) -> list[str]:
    rows = doc["summary"]
    busy = [r["machine_busy"] for r in rows if r["machine_busy"] is not None]
    notes = [
        f"The machine's two cores were a median {statistics.median(busy) * 50:.0f}% busy during the cells: "
        "every configuration competes with PostgreSQL, Redis, the load generator and the upstream."
        if busy
        else "",
        f"Ledger after the run (the checks of `tokenops ledger verify` on the shared database): "
        f"{doc['ledger_verify']['usage_records']:,} usage records, {doc['ledger_verify']['count']} problems"
        + (f", first: {doc['ledger_verify']['problems'][0]}" if doc["ledger_verify"]["problems"] else "")
        + ".",
    ]
    errors = sum(r["errors"] for r in rows)
    if errors:
        first = next(r["first_error"] for r in rows if r["first_error"])
        notes.append(f"{errors} failed requests in all; first: {first}")
    else:
        notes.append("No failed requests.")
    return [n for n in notes if n]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "kernel": platform.release()}
    for name in ("tokenops", "uvicorn", "asyncpg", "redis"):
        try:
            out[name if name != "redis" else "redis-py"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True, text=True
    )
    out["tokenops_commit"] = head.stdout.strip() + (" (src/ has uncommitted changes)" if dirty.stdout.strip() else "")
    return out


async def _server_versions(dsn: str, redis_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        pg = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    client = redis.Redis.from_url(redis_url)
    try:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
    finally:
        client.close()
    return {"postgresql": pg.split()[0], "redis": str(info.get("redis_version", "?"))}


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _drop_redis_prefix(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


async def ledger_check(dsn: str, schema: str) -> dict[str, Any]:
    """The checks of `tokenops ledger verify` (hash chains, balances, rated usage, reservations) on the shared
    database, in process: the command reads the embedded store or asks a gateway's admin API."""
    store = PostgresStore(dsn, schema, pool_size=2)
    await store.open()
    try:
        ledger = ChargingPostgres(store)
        await ledger.open()
        catalog = await store.load_catalog()
        sectors = {t.id: t.sector for t in catalog.tenants.values()}
        records = await store.usage_records()
        problems = (await verify_ledger(ledger, records, sectors, int(time.time() * 1000))).problems
        return {"usage_records": len(records), "problems": [str(p) for p in problems[:5]], "count": len(problems)}
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round at concurrency 64")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--seconds", type=float, help="override the measured seconds per cell")
    parser.add_argument("--concurrency", help="comma-separated concurrencies (default 64,256)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-workers", action="store_true", help="leave out the `serve --workers 2` configurations")
    parser.add_argument("--out", default=str(BENCH / "results"), help="folder for the .md and .json results")
    parser.add_argument("--name", help="file name stem (default scaleout-replicas-YYYY-MM-DD[-quick])")
    args = parser.parse_args(argv)

    base = QUICK if args.quick else FULL
    plan = Plan(
        rounds=args.rounds or base.rounds,
        seconds=args.seconds or base.seconds,
        warmup_s=base.warmup_s,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")) if args.concurrency else base.concurrency,
        modes=base.modes,
        replicas=base.replicas,
    )
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two cores: one for the load generator, one for the gateways")
    os.sched_setaffinity(0, {CLIENT_CORE})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still drops its database and keys
    started = datetime.now(UTC)
    t0 = time.monotonic()
    (BENCH / ".work").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="replicas-", dir=BENCH / ".work"))
    run_id = secrets.token_hex(4)
    database = f"tokenops_replicas_{run_id}"
    dsn = args.pg.rsplit("/", 1)[0] + "/" + database
    schema, prefix = f"bench_{run_id}", f"tokenops-bench-{run_id}:"
    env: dict[str, str | None] = {
        "TOKENOPS_SECRET": secrets.token_hex(16),
        "TOKENOPS_DATABASE_URL": dsn,
        "TOKENOPS_REDIS_URL": args.redis,
        "TOKENOPS_DATABASE_SCHEMA": schema,
        "TOKENOPS_REDIS_PREFIX": prefix,
    }

    upstream_port = _free_port()
    fake = start_fake_upstream(upstream_port, work, CLIENT_CORE)
    config = work / "catalog.yaml"
    config.write_text(tokenops_catalog(upstream_port))
    gateways: list[Target] = []
    asyncio.run(_admin(args.pg, f"CREATE DATABASE {database}"))
    try:
        servers = asyncio.run(_server_versions(args.pg, args.redis))
        print("starting the embedded replica ...", flush=True)
        embedded = start_tokenops(_free_port(), upstream_port, work / "embedded", GATEWAY_CORE)
        embedded.name = EMBEDDED
        gateways.append(embedded)
        pg_replicas: list[Target] = []
        for i in range(max(plan.replicas)):
            print(f"starting PostgreSQL replica {i + 1} ...", flush=True)
            pg_replicas.append(start_replica(i, upstream_port, config, work, env))
        gateways += pg_replicas
        workers = []
        if not args.no_workers:
            for cores in ({GATEWAY_CORE}, {CLIENT_CORE, GATEWAY_CORE}):
                print(f"starting tokenops serve --workers 2 on {len(cores)} core(s) ...", flush=True)
                workers.append(start_workers(2, cores, upstream_port, config, work, env))
        gateways += workers
        clusters = [Cluster("direct", [Target("direct", upstream_port, None)]), Cluster(EMBEDDED, [embedded])]
        clusters += [Cluster(f"postgres x{n}", pg_replicas[:n]) for n in plan.replicas]
        clusters += [Cluster(w.name, [w]) for w in workers]
        assert fake.process is not None
        client_pids = [os.getpid(), fake.process.pid]
        print(f"measuring {', '.join(c.name for c in clusters)} ...", flush=True)
        cells = uvloop.run(measure_all(plan, clusters, gateways, client_pids))
        time.sleep(1.5)  # the last group commits land
        for gw in pg_replicas + workers:
            gw.stop()
        print("ledger verify ...", flush=True)
        verify = asyncio.run(asyncio.wait_for(ledger_check(dsn, schema), 120))
    finally:
        for gw in gateways:
            gw.stop()
        fake.stop()
        asyncio.run(_admin(args.pg, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        dropped = _drop_redis_prefix(args.redis, prefix)
        print(f"dropped database {database} and {dropped} Redis keys under {prefix}", flush=True)

    rel = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else sys.executable
    doc: dict[str, Any] = {
        "command": " ".join([rel, "bench/scaleout/replicas.py", *(argv if argv is not None else sys.argv[1:])]),
        "started": started.isoformat(timespec="seconds"),
        "duration_s": time.monotonic() - t0,
        "machine": machine_facts(),
        "versions": {**_versions(), **servers},
        "plan": asdict(plan),
        "schema": schema,
        "ledger_verify": verify,
        "summary": summarise(cells, [c.name for c in clusters]),
        "cells": cells,
    }
    doc["notes"] = _notes(doc)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"scaleout-replicas-{started:%Y-%m-%d}" + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    markdown = _markdown(doc)
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)
    print(f"written: {out / stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

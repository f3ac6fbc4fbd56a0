"""Start-up of a gateway process on an operator-scale catalog: time to /readyz, RSS, /metrics size.

    .venv/bin/python bench/scale/startup.py --catalog /tmp/operator.yaml [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENOPS = str(ROOT / ".venv" / "bin" / "tokenops")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, token: str | None = None) -> bytes:
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=120) as resp:
            return bytes(resp.read())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(catalog: Path, home: Path, env: dict[str, str], timeout_s: float = 600) -> Gateway:
    """Start `tokenops serve` and wait for /readyz; the time counts from the process's start."""
    port = free_port()
    log = open(home / f"serve-{port}.log", "wb")  # noqa: SIM115 (kept open for the process's life)
    started = time.perf_counter()
    proc = subprocess.Popen([TOKENOPS, "serve", "--config", str(catalog), "--home", str(home), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    gw = Gateway(proc, port, 0.0)
    while time.perf_counter() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}: see {log.name}")
        try:
            gw.get("/readyz")
            gw.ready_s = time.perf_counter() - started
            return gw
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("gateway not ready in time")


def metric_series(gw: Gateway) -> int:
    """Series in one /metrics scrape (sample lines, not comments)."""
    text = gw.get("/metrics", "adm-bench-operator").decode()
    return sum(1 for line in text.splitlines() if line and line[0] != "#")


def environment(database_url: str | None, schema: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOPS_")}
    env["TOKENOPS_SECRET"] = "bench-scale-secret"
    if database_url:
        env["TOKENOPS_DATABASE_URL"] = database_url
        if schema:
            env["TOKENOPS_DATABASE_SCHEMA"] = schema
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = environment(args.database_url, "bench_" + str(os.getpid()) if args.database_url else None)
        for label in ("first start (seeds)", "restart (seeded)"):
            gw = start(args.catalog, Path(tmp), env)
            series = metric_series(gw)
            print(f"{label}: ready {gw.ready_s:.2f} s, RSS {rss_mb(gw.proc.pid):.0f} MB, /metrics {series:,} series",
                  flush=True)  # fmt: skip
            gw.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()

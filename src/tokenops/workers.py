"""`tokenops serve --workers N`: N gateway processes on one port, one per core.

The parent binds the port once, applies the migrations and makes the key secret, then
starts each worker as a process of its own (`python -m tokenops serve …`) that inherits
the listening socket (`TOKENOPS_WORKER_FD`); the kernel hands each new connection to
whichever worker accepts it first. Workers are replicas in every other respect: they
share PostgreSQL and Redis as replicas on separate hosts do, so every invariant that
holds across replicas (limits, credit control, one record and one charge per request)
holds across workers. The embedded store cannot be shared this way — its counters,
credit and ledger writer live in one process — so several workers need the scaled-out
stores. The parent restarts a worker that dies, and passes SIGTERM on to all of them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

from tokenops.errors import ConfigError

log = logging.getLogger("tokenops.workers")

FD_ENV = "TOKENOPS_WORKER_FD"
INDEX_ENV = "TOKENOPS_WORKER"
READY_TIMEOUT_S = 120.0
_RESTART_MAX_S = 30.0


def check_scaled_out(workers: int, database_url: str | None, redis_url: str | None) -> None:
    """Several workers share state only through PostgreSQL and Redis: refuse them on the embedded store."""
    if workers > 1 and (database_url is None or redis_url is None):
        raise ConfigError(
            f"--workers {workers} needs the scaled-out stores (--database-url and --redis-url, or "
            "TOKENOPS_DATABASE_URL and TOKENOPS_REDIS_URL): workers are replicas, and the embedded store keeps its "
            "rate limits, credit leases and ledger writer inside one process, where a second process cannot see "
            "them. On the embedded store run one worker; it uses one core."
        )


def listening_socket(host: str, port: int) -> socket.socket:
    """The port every worker accepts on, bound once by the parent."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def inherited_socket() -> socket.socket | None:
    """The listening socket a worker got from its parent, or None in a process started on its own."""
    fd = os.environ.get(FD_ENV)
    return socket.socket(fileno=int(fd)) if fd else None


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # quick deaths in a row: each doubles the wait before the next start
    restart_at: float = 0.0


@dataclass
class Supervisor:
    """Starts the workers, restarts one that dies, and stops them all on SIGTERM or SIGINT."""

    argv: Sequence[str]  # the worker's command line (worker_command)
    sock: socket.socket
    count: int
    grace_s: float
    env: dict[str, str] = field(default_factory=dict)  # added to each worker's environment (the store URLs)
    workers: list[_Worker] = field(default_factory=list)
    stopping: bool = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.workers = [_Worker(i) for i in range(self.count)]
        self._start(self.workers[0])  # the first seeds the store; the others start once it is ready
        if not self._wait_ready(self.workers[0]):
            self._shutdown()
            return 1  # it could not start (its error is on stderr): nor would the others
        for worker in self.workers[1:]:
            if not self.stopping:
                self._start(worker)
        while not self.stopping:
            time.sleep(0.2)
            self._watch()
        return self._shutdown()

    def _start(self, worker: _Worker) -> None:
        env = {**os.environ, **self.env, FD_ENV: str(self.sock.fileno()), INDEX_ENV: str(worker.index)}
        worker.process = subprocess.Popen(self.argv, env=env, pass_fds=(self.sock.fileno(),))
        worker.started = time.monotonic()
        log.info("worker %d started (pid %d)", worker.index, worker.process.pid)

    def _wait_ready(self, worker: _Worker) -> bool:
        host, port = self.sock.getsockname()[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a wildcard address answers on loopback
        url = f"http://[{host}]:{port}/readyz" if ":" in host else f"http://{host}:{port}/readyz"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and not self.stopping:
            assert worker.process is not None
            if worker.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        return False

    def _watch(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is not None:
                code = worker.process.returncode
                worker.failures = worker.failures + 1 if now - worker.started < 10 else 0
                worker.restart_at = now + min(_RESTART_MAX_S, 0.5 * 2**worker.failures)
                log.error("worker %d (pid %d) exited with %s; restarting", worker.index, worker.process.pid, code)
                worker.process = None
            if worker.process is None and now >= worker.restart_at:
                self._start(worker)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _shutdown(self) -> int:
        running = [w.process for w in self.workers if w.process is not None and w.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)  # each finishes its streams and settles, as a replica does
        deadline = time.monotonic() + self.grace_s + 5
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.sock.close()
        return 0


def worker_command(config: str | None, host: str, port: int, home: str) -> list[str]:
    """A worker's command line: `serve` with the parent's catalog, address and home (store URLs go by env)."""
    argv = [sys.executable, "-m", "tokenops", "serve", "--host", host, "--port", str(port), "--home", home]
    return argv + (["--config", config] if config else [])

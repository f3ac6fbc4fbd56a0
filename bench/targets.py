"""The processes under test: the fake upstream, the Python floor, tokenops, Portkey and LiteLLM, each pinned.

A target is what the load generator talks to: direct (the fake upstream itself) or a
gateway in front of it. Gateways not being measured are paused (SIGSTOP), so an idle
gateway's timers never steal CPU from the one under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from procstat import descendants

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TOKENOPS_KEY = "sk-bench-tokenops"
TOKENOPS_SIZE_KEY = "sk-bench-size"  # its own tenant: per-key detector state of the load cells does not carry over
LITELLM_KEY = "sk-bench-litellm"
FLOOR_KEY = "sk-bench-floor"
MODEL = "bench-model"


def pinned(core: int | None) -> dict[str, object]:
    """Popen arguments that pin the child to `core` and give it its own process group."""
    if core is None:
        return {"start_new_session": True}
    return {"start_new_session": True, "preexec_fn": lambda: os.sched_setaffinity(0, {core})}


@dataclass
class Target:
    name: str
    port: int
    token: str | None
    size_token: str | None = None  # key for the size benchmark (default: token)
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request (Portkey routes by its headers)
    modes: tuple[str, ...] = ("chat", "stream")  # what it can serve (a mode it fails at is left out, with a note)
    note: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _pids: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        """The process tree measured for CPU and memory (empty for direct)."""
        if self.process is None:
            return []
        if not self._pids:
            self._pids = descendants(self.process.pid)
        return self._pids

    def pause(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGCONT)
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def _wait_ready(target: Target, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{target.port}{path}"
    while time.monotonic() < deadline:
        assert target.process is not None
        if target.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    target.pids()
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    log = target.log_path.read_text(errors="replace")[-2000:] if target.log_path else ""
    target.stop()
    raise RuntimeError(f"{target.name} did not become ready on {url}:\n{log}")


def _spawn(
    name: str, argv: list[str], log_path: Path, core: int | None, env: dict[str, str | None], cwd: Path
) -> Target:
    """Start `argv`; `env` adds variables to ours, or removes those it maps to None."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child_env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # type: ignore[call-overload]
            argv, stdout=log, stderr=subprocess.STDOUT, env=child_env, cwd=cwd, **pinned(core)
        )
    return Target(name, 0, None, process=process, log_path=log_path)


def start_fake_upstream(port: int, work: Path, core: int | None) -> Target:
    argv = [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(port)]
    target = _spawn("direct", argv, work / "fake-upstream.log", core, {}, REPO)
    target.port = port
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            body = b'{"model":"fake-model","messages":[{"role":"user","content":"hi"}]}'
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body)
            with urllib.request.urlopen(request, timeout=2):
                return target
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    target.stop()
    raise RuntimeError("the fake upstream did not start")


def tokenops_catalog(upstream_port: int) -> str:
    return f"""# written by bench/run.py: one tenant, one model, one OpenAI-compatible deployment on the fake upstream
models:
  - name: {MODEL}
    kind: chat
    context_window: 1000000
    tokenizer: cl100k
tenants:
  - id: bench
    name: Benchmark tenant
    kind: enterprise
    residency: [local]
    isolation: shared
    models: [{MODEL}]
    keys:
      - id: bench-key
        key: {TOKENOPS_KEY}
  - id: bench-size
    name: Benchmark tenant (size benchmark)
    kind: enterprise
    residency: [local]
    isolation: shared
    models: [{MODEL}]
    keys:
      - id: bench-size-key
        key: {TOKENOPS_SIZE_KEY}
deployments:
  - id: fake-1
    model: {MODEL}
    provider: openai
    upstream_model: fake-model
    base_url: http://127.0.0.1:{upstream_port}/v1
    region: local
    pool: shared
    input_cost_per_mtok: "0.30"
    output_cost_per_mtok: "0.60"
policies:
  extraction:  # the detector still scores every request; a benchmark's traffic is only recorded, never throttled
    tenants: {{bench: record, bench-size: record}}
prices:  # charging is on: every request is reserved, rated and debited from a prepaid balance
  currency: CNY
  versions:
    - id: bench
      effective: "2026-01-01T00:00:00Z"
      models:
        {MODEL}: {{input: "1.00", output: "2.00"}}
accounts:
  - tenant: bench
    type: prepaid
    balance: "100000000.00"
  - tenant: bench-size
    type: prepaid
    balance: "100000000.00"
"""


def start_tokenops(port: int, upstream_port: int, work: Path, core: int | None) -> Target:
    home = work / "tokenops-home"
    if home.exists():
        for child in home.iterdir():
            child.unlink()
    home.mkdir(parents=True, exist_ok=True)
    config = work / "tokenops-bench.yaml"
    config.write_text(tokenops_catalog(upstream_port))
    argv = [str(REPO / ".venv" / "bin" / "tokenops"), "serve", "--config", str(config), "--port", str(port)]
    argv += ["--home", str(home)]
    target = _spawn("tokenops", argv, work / "tokenops.log", core, {}, REPO)
    target.port, target.token, target.size_token = port, TOKENOPS_KEY, TOKENOPS_SIZE_KEY
    _wait_ready(target, "/readyz", 30)
    return target


def start_litellm(command: Path, config_text: str, port: int, work: Path, core: int | None) -> Target:
    config = work / "litellm-bench.yaml"
    config.write_text(config_text)
    env: dict[str, str | None] = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    env["DATABASE_URL"] = None  # no database: the proxy keeps spend in memory only
    env["PATH"] = f"{command.parent}:{os.environ.get('PATH', '')}"
    argv = [str(command), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    target = _spawn("litellm", argv, work / "litellm.log", core, env, work)
    target.port, target.token = port, LITELLM_KEY
    _wait_ready(target, "/health/liveliness", 120)
    return target


def start_floor(port: int, upstream_port: int, work: Path, core: int | None) -> Target:
    """The Python floor (bench/floor_proxy.py): a pass-through proxy with no features."""
    argv = [sys.executable, str(BENCH / "floor_proxy.py"), "--port", str(port),
            "--upstream", f"http://127.0.0.1:{upstream_port}", "--key", FLOOR_KEY]  # fmt: skip
    target = _spawn("floor", argv, work / "floor.log", core, {}, REPO)
    target.port, target.token = port, FLOOR_KEY
    _wait_ready(target, "/healthz", 30)
    return target


def start_portkey(node: Path, script: Path, port: int, upstream_port: int, work: Path, core: int | None) -> Target:
    """Portkey's open-source gateway under Node, routing every request to the fake upstream by its headers."""
    argv = [str(node), str(script), f"--port={port}"]
    target = _spawn("portkey", argv, work / "portkey.log", core, {"NODE_ENV": "production"}, script.parent)
    target.port, target.token = port, "sk-fake-upstream"  # Portkey passes the key on to the upstream
    target.headers = (
        ("x-portkey-provider", "openai"),
        ("x-portkey-custom-host", f"http://127.0.0.1:{upstream_port}/v1"),
    )
    _wait_ready(target, "/", 60)
    failed = _stream_fails(target)
    if failed:
        target.modes = ("chat",)
        target.note = f"Portkey's gateway answered a stream with {failed}, so its stream cells were left out."
    return target


def _stream_fails(target: Target) -> str:
    """Why one streamed chat completion through `target` fails ('' when it streams to [DONE])."""
    body = b'{"model":"fake-model","stream":true,"stream_options":{"include_usage":true},'
    body += b'"messages":[{"role":"user","content":"hi"}]}'
    headers = {"content-type": "application/json", "authorization": f"Bearer {target.token}", **dict(target.headers)}
    request = urllib.request.Request(f"http://127.0.0.1:{target.port}/v1/chat/completions", body, headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} ({exc.read()[:80]!r})"
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return repr(exc)
    return "" if text.rstrip().endswith(b"[DONE]") else f"a body that does not end in [DONE] ({text[-80:]!r})"

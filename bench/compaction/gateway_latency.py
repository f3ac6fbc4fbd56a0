"""Added latency of a long agent session through the gateway, with and without compaction.

One fake upstream (no tokenizing, a fixed 32-token answer) serves three paths, each
request sent one at a time and the paths interleaved:
  direct      the fake upstream itself;
  no-compact  tokenops, tenant with compaction off, model with a 1,000,000-token window;
  compact     tokenops, tenant with compaction on, model with a 32,768-token window,
              so every session here is compacted before it is forwarded.
Run: .venv/bin/python bench/compaction/gateway_latency.py [--sizes 50000,100000,200000] [--reps 7]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from targets import Target, _spawn, _wait_ready, start_fake_upstream  # noqa: E402

from tokenops.compaction.sessions import generate  # noqa: E402

CATALOG = """
models:
  - {{name: wide, kind: chat, context_window: 1000000, tokenizer: cl100k}}
  - {{name: narrow, kind: chat, context_window: 32768, tokenizer: cl100k}}
tenants:
  - id: plain
    kind: enterprise
    residency: [local]
    models: [wide]
    keys: [{{id: plain-key, key: sk-bench-plain}}]
  - id: compacting
    kind: enterprise
    residency: [local]
    models: [narrow]
    content_logging: true
    compaction: {{mode: threshold, threshold: 0.85, target: 0.6}}
    keys: [{{id: compact-key, key: sk-bench-compact}}]
deployments:
  - {{id: wide-1, model: wide, provider: openai, base_url: "http://127.0.0.1:{port}/v1", region: local}}
  - {{id: narrow-1, model: narrow, provider: openai, base_url: "http://127.0.0.1:{port}/v1", region: local}}
"""


def post(port: int, body: bytes, key: str | None) -> tuple[float, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status} from port {port}")
    found = {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    return elapsed, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50000,100000,200000")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tokenops-compaction-bench-"))
    upstream = start_fake_upstream(18411, work, None)
    config = work / "catalog.yaml"
    config.write_text(CATALOG.format(port=upstream.port))
    gateway_port = 18412
    argv = [str(REPO / ".venv" / "bin" / "tokenops"), "serve", "--config", str(config), "--port", str(gateway_port),
            "--home", str(work / "home")]  # fmt: skip
    gateway: Target = _spawn("tokenops", argv, work / "gateway.log", None, {"TOKENOPS_REQUEST_LOG": "off"}, REPO)
    gateway.port = gateway_port
    _wait_ready(gateway, "/readyz", 30)
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            messages, _ = generate(f"ops-{size}", 7, size)
            bodies = {
                "direct": (upstream.port, {"model": "fake", "messages": messages}, None),
                "no-compact": (gateway_port, {"model": "wide", "messages": messages}, "sk-bench-plain"),
                "compact": (gateway_port, {"model": "narrow", "messages": messages}, "sk-bench-compact"),
            }
            encoded = {name: (port, orjson.dumps(body), key) for name, (port, body, key) in bodies.items()}
            times: dict[str, list[float]] = {name: [] for name in bodies}
            tokens_after = ""
            for i in range(args.reps + 1):
                for name, (port, body, key) in encoded.items():
                    elapsed, headers = post(port, body, key)
                    if i:  # the first round warms caches and connections
                        times[name].append(elapsed)
                    if name == "compact":
                        tokens_after = headers.get("x-tokenops-compaction-tokens-after", "")
            direct = statistics.median(times["direct"])
            rows.append((size, len(encoded["direct"][1]), direct,
                         statistics.median(times["no-compact"]) - direct,
                         statistics.median(times["compact"]) - direct, tokens_after))  # fmt: skip
    finally:
        gateway.stop()
        upstream.stop()
    print(f"Command: `.venv/bin/python bench/compaction/gateway_latency.py --sizes {args.sizes} --reps {args.reps}`")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; medians of {args.reps} requests.\n")
    print("| session tokens | body bytes | direct ms | added, no compaction ms | added, compacted ms | tokens after |")
    print("|---|---|---|---|---|---|")
    for size, nbytes, direct, plain, compacted, after in rows:
        print(f"| {size:,} | {nbytes:,} | {direct:.2f} | {plain:.2f} | {compacted:.2f} | {after} |")


if __name__ == "__main__":
    main()

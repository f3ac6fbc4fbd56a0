"""Added latency of a long agent session through the gateway, with and without compaction.

One fake upstream (no tokenizing, a fixed 32-token answer) serves three paths, each
request sent one at a time and the paths interleaved:
  direct      the fake upstream itself;
  no-compact  tokenops, tenant with compaction off, model with a 1,000,000-token window;
  compact     tokenops, tenant with compaction on, model with a 32,768-token window,
              so every session here is compacted before it is forwarded.
Run: .venv/bin/python bench/compaction/gateway_latency.py [--sizes 50000,100000,200000] [--generators agent,noc]
     [--baseline REV] [--reps 7]
With --baseline, a second gateway runs the source tree of REV (extracted with git archive) on the
same catalog, and the compacted path is timed on both, interleaved.
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

from baseline_worker import extract  # noqa: E402
from targets import Target, _spawn, _wait_ready, start_fake_upstream  # noqa: E402

from tokenops.compaction.corpora import GENERATORS  # noqa: E402

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


def start_gateway(work: Path, config: Path, port: int, tree: Path | None) -> Target:
    """tokenops serve from this tree, or from another revision's `src` (put first on PYTHONPATH)."""
    name = "tokenops" if tree is None else f"tokenops-{tree.parent.name.removeprefix('tree-')}"
    serve = ["serve", "--config", str(config), "--port", str(port), "--home", str(work / name)]
    if tree is None:
        argv = [str(REPO / ".venv" / "bin" / "tokenops"), *serve]
        env: dict[str, str | None] = {"TOKENOPS_REQUEST_LOG": "off"}
    else:
        argv = [sys.executable, "-c", "import sys; from tokenops.cli.main import main; sys.exit(main(sys.argv[1:]))",
                *serve]  # fmt: skip
        env = {"TOKENOPS_REQUEST_LOG": "off", "PYTHONPATH": str(tree)}
    gateway = _spawn(name, argv, work / f"{name}.log", None, env, REPO)
    gateway.port = port
    _wait_ready(gateway, "/readyz", 30)
    return gateway


def session(generator: str, size: int) -> list[dict[str, object]]:
    gen = GENERATORS[generator]
    kind = gen.sessions[0][3] if generator != "noc" else "dns"
    return gen.generate(f"{generator}-{size}", 7, size, kind)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50000,100000,200000")
    parser.add_argument("--generators", default="agent,noc")
    parser.add_argument("--baseline", help="git revision whose gateway also serves the compacted path")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tokenops-compaction-bench-"))
    upstream = start_fake_upstream(18411, work, None)
    config = work / "catalog.yaml"
    config.write_text(CATALOG.format(port=upstream.port))
    gateways = [start_gateway(work, config, 18412, None)]
    if args.baseline:
        gateways.append(start_gateway(work, config, 18413, extract(args.baseline, work)))
    rows = []
    try:
        for generator in args.generators.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                messages = session(generator, size)
                bodies = {
                    "direct": (upstream.port, {"model": "fake", "messages": messages}, None),
                    "no-compact": (gateways[0].port, {"model": "wide", "messages": messages}, "sk-bench-plain"),
                    **{f"compact {'this tree' if k == 0 else args.baseline}": (
                        g.port, {"model": "narrow", "messages": messages}, "sk-bench-compact")
                       for k, g in enumerate(gateways)},
                }  # fmt: skip
                encoded = {name: (port, orjson.dumps(body), key) for name, (port, body, key) in bodies.items()}
                times: dict[str, list[float]] = {name: [] for name in bodies}
                after = ""
                for i in range(args.reps + 1):
                    for name, (port, body, key) in encoded.items():
                        elapsed, headers = post(port, body, key)
                        if i:  # the first round warms caches and connections
                            times[name].append(elapsed)
                        if name == "compact this tree":
                            after = headers.get("x-tokenops-compaction-tokens-after", "")
                direct = statistics.median(times["direct"])
                added = [statistics.median(times[name]) - direct for name in bodies if name != "direct"]
                rows.append((generator, size, len(encoded["direct"][1]), direct, added, after))
    finally:
        for gateway in gateways:
            gateway.stop()
        upstream.stop()
    names = [name for name in bodies if name != "direct"]
    baseline = f" --baseline {args.baseline}" if args.baseline else ""
    print(f"Command: `.venv/bin/python bench/compaction/gateway_latency.py --sizes {args.sizes} "
          f"--generators {args.generators}{baseline} --reps {args.reps}`")  # fmt: skip
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; medians of {args.reps} requests.\n")
    print("| session | body bytes | direct ms | " + " | ".join(f"added, {n} ms" for n in names) + " | tokens after |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    for generator, size, nbytes, direct, added, after in rows:
        cells = " | ".join(f"{a:.2f}" for a in added)
        print(f"| {generator} {size:,} | {nbytes:,} | {direct:.2f} | {cells} | {after} |")


if __name__ == "__main__":
    main()

"""Compacts sessions with the tokenops tree given on the command line (another revision's), for run.py.

    python baseline_worker.py TREE SESSIONS_DIR OUT_DIR RATIOS RUNS TIMED

TREE is a `src` folder extracted from a git revision; it goes first on sys.path, so the
compactor of that revision runs. Writes, for each session and ratio, OUT_DIR/NAME@RATIO.json
(the compacted messages and the counts), and OUT_DIR/latency.json for the TIMED sessions.
Uses only what the compactor offered before this benchmark existed: compact() and TokenCache.
"""

from __future__ import annotations

import importlib
import io
import math
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]


def extract(rev: str, work: Path) -> Path:
    """The `src` folder of revision `rev`, extracted under `work` with git archive."""
    tree = work / f"tree-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src/tokenops"], check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree / "src"


def main() -> None:
    tree, sessions, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    ratios = [float(x) for x in sys.argv[4].split(",")]
    runs = int(sys.argv[5])
    timed = set(sys.argv[6].split(","))
    sys.path.insert(0, str(tree))  # the revision's tree, not the installed one, is imported below
    compaction = importlib.import_module("tokenops.compaction")
    compact, TokenCache = compaction.compact, compaction.TokenCache
    counter = importlib.import_module("tokenops.tokenize").counter_for("cl100k")
    latency = []
    for path in sorted(sessions.rglob("*.jsonl")):
        messages = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        cache = TokenCache(counter)
        before = cache.request(messages)
        for ratio in ratios:
            target = math.ceil(before / ratio)
            result = compact(messages, counter=counter, target_tokens=target, cache=cache)
            record = {
                "messages": result.messages,
                "tokens_before": result.tokens_before,
                "tokens_after": result.tokens_after,
                "target": target,
                "elapsed_ms": result.elapsed_ms,
            }
            (out / f"{path.stem}@{ratio:g}.json").write_bytes(orjson.dumps(record))
        if path.stem in timed:
            for ratio in (2.0, 8.0):
                latency.append(
                    {
                        "session": path.stem,
                        "tokens": before,
                        "ratio": ratio,
                        **cpu_ms(compact, TokenCache, counter, messages, int(before / ratio), runs),
                    }
                )
    (out / "latency.json").write_bytes(orjson.dumps(latency))


def cpu_ms(
    compact: object, cache_type: object, counter: object, messages: list[dict[str, object]], target: int, runs: int
) -> dict[str, float]:
    """Median CPU milliseconds of compact() with a fresh count cache (cold) and a filled one (warm)."""
    warm = cache_type(counter)  # type: ignore[operator]
    compact(messages, counter=counter, target_tokens=target, cache=warm)  # type: ignore[operator]
    found = {}
    for mode in ("cold", "warm"):
        times = []
        for _ in range(runs):
            cache = warm if mode == "warm" else cache_type(counter)  # type: ignore[operator]
            began = time.process_time()
            compact(messages, counter=counter, target_tokens=target, cache=cache)  # type: ignore[operator]
            times.append((time.process_time() - began) * 1000)
        found[f"{mode}_cpu_ms"] = round(statistics.median(times), 1)
    return found


if __name__ == "__main__":
    main()

"""Tune the detectors in process on the calibration traffic: `.venv/bin/python bench/extraction/offline.py`.

Simulated time, no gateway: the calibration generators (benign kinds and the scrapers the detectors
are tuned against) feed `Detectors` directly, and every finding at or above the policy's threshold
counts as a catch. Only a tuning aid: the figures that count come from `run.py` on the evaluation's
own traffic, through a real gateway.
"""

from __future__ import annotations

import heapq
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.extraction.calibration import BENIGN, SCRAPERS, Step

from tokenops.security.detectors import Detectors
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.prompt import chat_prompt
from tokenops.security.subject import Observation

DURATION_S = 900.0
OUT = Path(__file__).resolve().parents[2] / "bench" / "results" / "extraction-calibration.md"
MIXES = [(host, scrape, fraction) for host in ("agent", "summaries", "rag") for scrape in ("distiller", "harvester")
         for fraction in (0.25, 0.5)]  # fmt: skip


def _mixed(rng: random.Random, host: Iterator[Step], scrape: Iterator[Step], fraction: float) -> Iterator[Step]:
    while True:
        if rng.random() < fraction:
            wait, body, user, session = next(scrape)
            yield min(wait, 2.0), body, user, session
        else:
            yield next(host)


def main(seed: int = 11) -> int:
    rng = random.Random(seed)
    detectors = Detectors()
    policy = ExtractionPolicy()
    clients = []  # (kind, key, tenant, address, generator)
    for t in range(6):
        for kind in BENIGN:
            for i in range(4 if kind != "app" else 1):
                clients.append((kind, f"t{t}-{kind}-{i}", f"t{t}", f"10.{t}.{i}.{len(clients) % 250}"))
    for kind in SCRAPERS:
        for i in range(6):
            clients.append((kind, f"x-{kind}-{i}", f"t{i % 6}", f"192.0.2.{len(clients) % 250}"))
    for i, (host, scrape, fraction) in enumerate(MIXES):  # a scrape hidden in a busy honest key
        clients.append((f"mixed-{host}-{scrape}-{fraction}", f"mix{i}", f"t{i % 6}", f"10.{i % 6}.9.{i}"))
    for i in range(4):  # low and slow: one scrape over six keys of one tenant, one address
        for j in range(6):
            clients.append((f"spread-{i}", f"spread{i}-{j}", f"t{i}", f"198.51.100.{i}"))
    gens = {}
    queue: list[tuple[float, int]] = []
    for n, (kind, _key, _tenant, _addr) in enumerate(clients):
        base = kind.split("-")[0]
        if base == "mixed":
            host, scrape, fraction = MIXES[int(_key[3:])]
            inner = SCRAPERS[scrape](random.Random(rng.random()))
            gens[n] = _mixed(rng, BENIGN[host](random.Random(rng.random())), inner, fraction)
        elif base == "spread":
            inner = SCRAPERS["harvester" if int(kind[-1]) % 2 else "distiller"](random.Random(f"{kind}"))
            gens[n] = ((w * 6, b, u, s) for w, b, u, s in inner)  # each key a sixth of the scrape's rate
        else:
            gens[n] = (BENIGN.get(kind) or SCRAPERS[kind])(random.Random(rng.random()))
        heapq.heappush(queue, (rng.uniform(0, 30), n))
    sent: dict[str, int] = defaultdict(int)
    caught: dict[str, int] = {}
    group_sent: dict[str, int] = defaultdict(int)
    while queue:
        at, n = heapq.heappop(queue)
        if at > DURATION_S:
            break
        kind, key, tenant, addr = clients[n]
        wait, body, user, session = next(gens[n])
        heapq.heappush(queue, (at + wait, n))
        tokens, prompt = chat_prompt(body, body.get("max_tokens"))
        out = min(body.get("max_tokens") or 320, 320)
        sent[key] += 1
        group_sent[kind] += 1
        obs = Observation(at, tenant, key, tokens, out, prompt, addr, user, session is not None)
        for f in detectors.observe(obs, policy):
            if f.score >= policy.threshold and key not in caught:
                caught[key] = sent[key] if not kind.startswith("spread") else group_sent[kind]
                print(f"{at:7.1f}s {kind:12} {key:18} {f.detector:14} {f.score:.2f} after {caught[key]} {f.evidence}")
        for members, f in detectors.sweep(at, policy):
            for m in members:
                if m not in caught:
                    kind_m = next(c[0] for c in clients if c[1] == m)
                    caught[m] = sent[m] if not kind_m.startswith("spread") else group_sent[kind_m]
                    print(f"{at:7.1f}s {kind_m:12} {m:18} cluster        {f.score:.2f} after {caught[m]} {f.evidence}")
    rows: list[str] = []
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, key, _t, _a in clients:
        by_kind[kind.split("-")[0]].append(key)
    for kind, keys in by_kind.items():
        hit = [k for k in keys if k in caught]
        per_key = sum(sent[k] for k in keys) / len(keys)
        print(f"{kind:12} keys {len(keys):3} flagged {len(hit):3} requests/key {per_key:7.0f}")
        role = "benign" if kind in BENIGN else "scraper"
        rows.append(f"| {kind} | {role} | {len(keys)} | {len(hit)} | {per_key:.0f} |")
    OUT.write_text(
        "# Extraction detectors on their calibration traffic (tuning set, not the evaluation)\n\n"
        f"Command: `.venv/bin/python bench/extraction/offline.py` — in process, {DURATION_S:.0f} s of simulated "
        "time, the calibration generators (`calibration.py`), every finding at or above the policy's threshold "
        "counted. The figures that count are the evaluation's (`extraction-eval.md`).\n\n"
        "| kind | role | keys | flagged | requests per key |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

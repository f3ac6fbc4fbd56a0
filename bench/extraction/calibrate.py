"""Calibrate the window test on benign traffic only: `.venv/bin/python bench/extraction/calibrate.py`.

Runs the calibration generators (`calibration.py`, never the evaluation's) through the detectors'
own feature pipeline, in process and on simulated time, and writes
`src/tokenops/security/data/benign.json`: each benign kind's mean bin shares (from one half of
the clients) and, per window size, the distance the other half's clients never exceeded over
their whole lives (the 99.5th percentile of each client's largest distance, with a margin).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.extraction.calibration import BENIGN

from tokenops.security.detectors import Detectors
from tokenops.security.features import WIDTH, label
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.prompt import chat_prompt
from tokenops.security.reference import Reference
from tokenops.security.subject import Observation
from tokenops.security.window import distance

SIZES = (16, 24, 32, 48)
CLIENTS = 40  # per kind: half for the profiles, half for the thresholds
REQUESTS = 600
MARGIN = 1.25
OUT = Path(__file__).resolve().parents[2] / "src" / "tokenops" / "security" / "data" / "benign.json"


def windows(kind: str, seed: int) -> list[tuple[int, list[float]]]:
    """(size, shares) of every window of one client's life, as the detectors see it."""
    rng = random.Random(f"calibration/{kind}/{seed}")
    detectors = Detectors(Reference())
    policy = ExtractionPolicy(default="record")
    gen = BENIGN[kind](rng)
    at = 0.0
    out = []
    for _ in range(REQUESTS):
        wait, body, user, session = next(gen)
        at += wait
        tokens, prompt = chat_prompt(body, body.get("max_tokens"))
        reply = min(body.get("max_tokens") or 320, 320)
        detectors.observe(Observation(at, "t", "k", tokens, reply, prompt, None, user, session is not None), policy)
        ring = list(detectors.keys["k"].window.ring)
        for size in SIZES:
            if len(ring) >= size:
                counts = [0] * WIDTH
                for bins in ring[-size:]:
                    for b in bins:
                        counts[b] += 1
                out.append((size, [c / size for c in counts]))
    return out


def main() -> int:
    profiles: dict[str, list[float]] = {}
    held_out: dict[str, list[list[tuple[int, list[float]]]]] = {}
    for kind in BENIGN:
        lives = [windows(kind, seed) for seed in range(CLIENTS)]
        full = [shares for life in lives[: CLIENTS // 2] for size, shares in life if size == SIZES[-1]]
        profiles[kind] = [round(sum(col) / len(full), 5) for col in zip(*full, strict=True)]
        held_out[kind] = lives[CLIENTS // 2 :]
    reference = Reference({k: tuple(v) for k, v in profiles.items()}, ())
    thresholds: dict[str, float] = {}
    for size in SIZES:
        maxima = sorted(
            max((reference.nearest(shares)[1] for n, shares in life if n == size), default=0.0)
            for lives in held_out.values()
            for life in lives
        )
        quantile = maxima[min(len(maxima) - 1, int(0.995 * len(maxima)))]
        thresholds[str(size)] = round(quantile * MARGIN, 4)
        print(f"window {size}: benign clients' largest distance p50 {maxima[len(maxima) // 2]:.3f}, "
              f"p99.5 {quantile:.3f} -> limit {thresholds[str(size)]}")  # fmt: skip
    for kind, profile in profiles.items():
        others = [distance(profile, p) for k, p in profiles.items() if k != kind]
        print(f"profile {kind}: nearest other profile at {min(others):.3f}")
    doc = {
        "generated_by": "bench/extraction/calibrate.py",
        "clients_per_kind": CLIENTS,
        "requests_per_client": REQUESTS,
        "bins": [label(i) for i in range(WIDTH)],
        "profiles": profiles,
        "thresholds": thresholds,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

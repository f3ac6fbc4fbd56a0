"""Token velocity series for the dashboard's charts: tokens per second in and out over a recent window."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from tokenops.telemetry.live import LiveStats

TENANT_SERIES = 10  # the busiest tenants charted on their own; the rest as one "other" series


def _busiest(series: dict[str, list[float]]) -> dict[str, list[float]]:
    ranked = sorted(series.items(), key=lambda kv: -sum(kv[1]))
    shown = dict(sorted(ranked[:TENANT_SERIES]))
    if len(ranked) > TENANT_SERIES:
        shown["other"] = [sum(values) for values in zip(*(v for _, v in ranked[TENANT_SERIES:]), strict=True)]
    return shown


def velocity(live: LiveStats, tenants: Collection[str], window_s: int = 120, step_s: int = 2,
             now: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Series per `step_s` bucket, ending with the last whole second; rates are per second."""
    end = int(time.time() if now is None else now)  # the current second is still filling: left out
    n = max(1, window_s // step_s)
    start = end - n * step_s
    zeros = [0.0] * n
    tok_in, tok_out, reqs, errs = list(zeros), list(zeros), list(zeros), list(zeros)
    by_tenant: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
    by_model: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
    for second in live.seconds:
        if not start <= second.at < end:
            continue
        i = (second.at - start) // step_s
        for (tenant, model), (t_in, t_out, count, failed) in second.by.items():
            if tenant not in tenants:
                continue
            tok_in[i] += t_in / step_s
            tok_out[i] += t_out / step_s
            reqs[i] += count / step_s
            errs[i] += failed / step_s
            by_tenant[tenant][i] += (t_in + t_out) / step_s
            if t_in + t_out:  # a refusal carries no tokens and names no served model (an alias, say): no series
                by_model[model][i] += (t_in + t_out) / step_s
    last = max(1, min(n, 10 // step_s or 1))
    return {
        "t": [start + (i + 1) * step_s for i in range(n)],
        "step_s": step_s,
        "in": tok_in,
        "out": tok_out,
        "requests": reqs,
        "errors": errs,
        "tenants": _busiest(by_tenant),
        "models": dict(sorted(by_model.items())),
        "now": {
            "in": round(sum(tok_in[-last:]) / last, 1),
            "out": round(sum(tok_out[-last:]) / last, 1),
            "requests": round(sum(reqs[-last:]) / last, 2),
        },
    }

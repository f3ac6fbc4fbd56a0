"""Measure what scoring costs per request: wall and CPU time, short prompt and long agent session."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tokenops.routing.model import ComplexityRouter

_FILLER = "the deploy failed with a stack trace in the parser module at line 1234, retry with the fixed config "


def short_body() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "What is the capital of France?"}]}


def long_session_body(turns: int = 400, last_turn_chars: int = 200_000) -> dict[str, Any]:
    """An agent session of ~`turns` messages (about 250k tokens) ending in a very long tool result."""
    turn = _FILLER * 25
    messages: list[dict[str, Any]] = [{"role": "system", "content": _FILLER * 10}]
    messages += [{"role": "user" if i % 2 == 0 else "assistant", "content": turn} for i in range(turns)]
    messages.append({"role": "tool", "content": (_FILLER * (last_turn_chars // len(_FILLER) + 1))[:last_turn_chars]})
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "parameters": {}}} for i in range(20)]
    return {"messages": messages, "tools": tools}


def _quantile(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(q * len(ranked)))]


def measure(router: ComplexityRouter, body: Mapping[str, Any], runs: int = 2000) -> dict[str, float]:
    """p50/p99 of wall time (what a request waits) and CPU time (what scoring itself costs), in ms."""
    for _ in range(min(200, runs)):
        router.score(body)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.thread_time()
        router.score(body)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {
        "wall_p50_ms": round(_quantile(wall, 0.5), 3),
        "wall_p99_ms": round(_quantile(wall, 0.99), 3),
        "cpu_p50_ms": round(_quantile(cpu, 0.5), 3),
        "cpu_p99_ms": round(_quantile(cpu, 0.99), 3),
    }

"""The request bodies the benchmark sends: a short chat turn, and long prompts for the size benchmark."""

from __future__ import annotations

import orjson

MODEL = "bench-model"
CHARS_PER_TOKEN = 4  # ~4 bytes of English or log text per BPE token: 200k tokens ≈ 800 KB


def chat_body(stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Summarise the last incident report in one paragraph."},
        ],
        "max_tokens": 32,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def _log_text(n_chars: int) -> str:
    """Varied, log-like text (timestamps, ids, numbers), as agent sessions carry."""
    lines: list[str] = []
    size = 0
    i = 0
    while size < n_chars:
        line = (
            f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z "
            f"{('INFO', 'WARN', 'ERROR')[i % 3]} feeder-{i % 113} breaker {i * 31 % 9973} load {i % 97}.{i % 10} MW\n"
        )
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)[:n_chars]


def sized_body(tokens: int) -> bytes:
    """A non-streaming chat request whose prompt is about `tokens` tokens long."""
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a grid operations assistant."},
            {"role": "user", "content": "Find the root cause in these logs:\n" + _log_text(tokens * CHARS_PER_TOKEN)},
        ],
        "max_tokens": 32,
    }
    return orjson.dumps(body)

"""Usage in each API's shape; the canonical `Usage` counts cache reads and writes inside `input_tokens`."""

from __future__ import annotations

from typing import Any

from tokenops.usage import Usage


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def from_anthropic(data: Any) -> Usage | None:
    """Anthropic's `input_tokens` excludes cached tokens; ours includes them, as OpenAI's does."""
    if not isinstance(data, dict) or not isinstance(data.get("input_tokens"), int):
        return None
    read = _int(data, "cache_read_input_tokens")
    write = _int(data, "cache_creation_input_tokens")
    split = data.get("cache_creation")  # writes by how long they are kept
    long_writes = _int(split, "ephemeral_1h_input_tokens") if isinstance(split, dict) else 0
    return Usage(
        input_tokens=_int(data, "input_tokens") + read + write,
        output_tokens=_int(data, "output_tokens"),
        cached_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=min(long_writes, write),
    )


def to_anthropic(usage: Usage) -> dict[str, Any]:
    uncached = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
    out: dict[str, Any] = {
        "input_tokens": uncached,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }
    if usage.cache_write_tokens:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    return out


def to_responses(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def to_openai(usage: Usage) -> dict[str, Any]:
    """Chat Completions usage, with the cache writes an Anthropic upstream reported."""
    out = usage.to_openai()
    if usage.cache_write_tokens:
        out["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
        if usage.cache_write_1h_tokens:
            out["prompt_tokens_details"]["cache_write_1h_tokens"] = usage.cache_write_1h_tokens
    return out

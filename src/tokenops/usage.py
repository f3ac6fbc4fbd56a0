"""Usage: the token counts of one request, as an upstream reports them or as they were counted.

A shared type at the bottom: providers return it, translations carry it between wire
formats, the gateway meters and records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens: read from the upstream's prompt cache
    cache_write_tokens: int = 0  # of input_tokens: written to it (Anthropic)
    reasoning_tokens: int = 0  # of output_tokens
    source: str = "upstream"
    cache_write_1h_tokens: int = 0  # of cache_write_tokens: writes kept an hour
    cost: str | None = None  # what the request cost the tenant (exact, major units), when the client asked

    @classmethod
    def from_openai(cls, data: Any) -> Usage | None:
        if not isinstance(data, dict):
            return None
        prompt = data.get("prompt_tokens")
        if not isinstance(prompt, int):
            return None
        details = data.get("prompt_tokens_details")
        out_details = data.get("completion_tokens_details")
        cached = _count(details, "cached_tokens") if isinstance(details, dict) else 0
        # DeepSeek's own fields; with both, the two say the same
        cached = cached or _count(data, "prompt_cache_hit_tokens")
        output = _count(data, "completion_tokens")
        reasoning = _count(out_details, "reasoning_tokens") if isinstance(out_details, dict) else 0
        return cls(
            input_tokens=prompt,
            output_tokens=output,
            cached_tokens=min(cached, prompt),
            reasoning_tokens=min(reasoning, output),
        )

    @property
    def cache_write_5m_tokens(self) -> int:
        return self.cache_write_tokens - self.cache_write_1h_tokens

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }
        if self.cost is not None:
            out["cost"] = self.cost
        return out


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

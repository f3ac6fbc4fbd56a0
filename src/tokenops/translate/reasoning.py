"""Reasoning text in a chat message or delta, under either name servers use for it."""

from __future__ import annotations

from typing import Any


def reasoning_text(part: dict[str, Any]) -> str | None:
    """DeepSeek-R1, Qwen3 and older vLLM send `reasoning_content`; newer vLLM sends `reasoning`."""
    value = part.get("reasoning_content")
    if value is None:
        value = part.get("reasoning")
    return value if isinstance(value, str) else None

"""The simulated model: deterministic replies derived from the prompt, with real token counts.

The engine knows nothing of wire formats; `simulator.openai_wire` renders its replies.
Every generated piece is one word that is a single token in the cl100k and o200k
encodings, so the output token count is exact.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from tokenops.simulator import agent
from tokenops.tokenize import count_messages, counter_for, is_tokenizer_file

_TEXT = (
    " the grid load is stable and the line level holds within the normal band for this hour"
    " we checked the line logs found one alarm on cell seven and fixed it after a restart"
    " the model has a simple plan first read the meter data then compare it with last week"
    " next step is to call the service team if the fault comes back before night today"
    " power flow looks good in the north area while the east side needs more time to recover"
)
WORDS = tuple(" " + w for w in _TEXT.split())


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How a simulated deployment behaves; every fault is off by default."""

    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0: no pacing
    reply_tokens: int = 0  # 0: 16..64 derived from the prompt
    context_window: int = 0  # 0: unlimited
    error_rate: float = 0.0
    error_status: int = 500
    timeout: bool = False  # hang without answering
    cut_after: int = 0  # end the stream abruptly after this many tokens (0: never)
    omit_usage: bool = False  # never send usage in streams (like llama.cpp's server)
    tokenizer: str = "cl100k"  # a family or a tokenizer file: then prompts count through its chat template
    imitate: str = ""  # offer this server's tokenize endpoints: vllm, llama.cpp, llama-cpp-python or tgi
    reasoning_tokens: int = 0  # think first: this many tokens as reasoning_content deltas (DeepSeek-R1 style)
    cached_tokens: int = 0  # prompt tokens reported as read from the prompt cache
    cache_write_tokens: int = 0  # prompt tokens reported as written to it (Anthropic wire)
    cache_write_1h_tokens: int = 0  # of those, kept an hour
    usage_style: str = "openai"  # how cached tokens are reported: openai (prompt_tokens_details) or deepseek

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(slots=True)
class SimReply:
    pieces: list[str]
    tool_calls: list[dict[str, Any]] | None
    prompt_tokens: int
    finish_reason: str
    error: tuple[int, str, str] | None = None  # status, code, message
    hang: bool = False
    cut_after: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    reasoning: list[str] = field(default_factory=list)  # thought before the answer, a token a piece
    tokenizer: str = "cl100k"

    @property
    def completion_tokens(self) -> int:
        if self.tool_calls:
            counter = counter_for("cl100k")
            return sum(counter.count(c["function"]["name"] + c["function"]["arguments"]) for c in self.tool_calls)
        if is_tokenizer_file(self.tokenizer):  # a server counts what it generated with its own tokenizer
            counter = counter_for(self.tokenizer)
            return counter.count("".join(self.pieces)) + self.reasoning_tokens
        return len(self.pieces) + len(self.reasoning)

    @property
    def reasoning_tokens(self) -> int:
        if is_tokenizer_file(self.tokenizer):
            return counter_for(self.tokenizer).count("".join(self.reasoning))
        return len(self.reasoning)


class SimEngine:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._calls = 0

    def reply(self, body: dict[str, Any]) -> SimReply:
        messages = body.get("messages") or []
        tools = body.get("tools") or []
        counter = counter_for(self.config.tokenizer)
        prompt_tokens = count_messages(counter, messages, tools)
        self._calls += 1
        cfg = self.config
        seed = _seed(messages)
        rng = random.Random(seed)
        reply = SimReply([], None, prompt_tokens, "stop", cut_after=cfg.cut_after, hang=cfg.timeout,
                         tokenizer=cfg.tokenizer)  # fmt: skip
        if cfg.error_rate > 0 and rng.random() < cfg.error_rate:
            reply.error = (cfg.error_status, "simulated_fault", "simulated upstream failure")
            return reply
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if cfg.context_window and prompt_tokens + (limit or 0) > cfg.context_window:
            reply.error = (
                400,
                "context_length_exceeded",
                f"This model's maximum context length is {cfg.context_window} tokens. However, you requested "
                f"{prompt_tokens + (limit or 0)} tokens ({prompt_tokens} in the messages, {limit or 0} in the "
                "completion). Please reduce the length of the messages or completion.",
            )
            return reply
        call = agent.tool_call(messages, tools, body.get("tool_choice"), rng)
        if call is not None:
            reply.tool_calls = [call]
            reply.finish_reason = "tool_calls"
            return reply
        n = cfg.reply_tokens or _reply_length(messages, limit, rng)
        if limit is not None and isinstance(limit, int) and limit < n:
            n = max(limit, 0)
            reply.finish_reason = "length"
        start = rng.randrange(len(WORDS))
        reply.pieces = [WORDS[(start + i) % len(WORDS)] for i in range(n)]
        if reply.pieces:
            reply.pieces[0] = reply.pieces[0].lstrip()
        if cfg.reasoning_tokens:
            reply.reasoning = [WORDS[(start + 7 + i) % len(WORDS)] for i in range(cfg.reasoning_tokens)]
            reply.reasoning[0] = reply.reasoning[0].lstrip()
        return reply

    def embed(self, texts: list[str], dimensions: int) -> tuple[list[list[float]], int]:
        counter = counter_for(self.config.tokenizer)
        vectors = [_vector(t, dimensions) for t in texts]
        return vectors, sum(counter.count(t) for t in texts)


# Words with which a turn asks for a long answer: a sensible model writes one where the output cap leaves room.
_LONG = re.compile(
    r"step by step|in detail|explain|essay|worked solution|full answer|reference answer|write (?:an?|the)"
)


def _reply_length(messages: list[Any], limit: Any, rng: random.Random) -> int:
    """16-64 tokens, or 160-400 (up to the cap) when the latest turn asks for a long answer and the cap allows."""
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    text = last.get("content") if last.get("role") == "user" else None
    if isinstance(text, str) and isinstance(limit, int) and limit >= 256 and _LONG.search(text.lower()):
        return rng.randint(160, min(limit, 400))
    return rng.randint(16, 64)


def _seed(messages: list[Any]) -> int:
    h = hashlib.blake2b(digest_size=8)
    for m in messages[-4:]:
        if isinstance(m, dict):
            h.update(str(m.get("content")).encode("utf-8", "replace"))
    return int.from_bytes(h.digest(), "big")


def _vector(text: str, dimensions: int) -> list[float]:
    out: list[float] = []
    counter = 0
    while len(out) < dimensions:
        digest = hashlib.blake2b(f"{counter}:{text}".encode("utf-8", "replace"), digest_size=64).digest()
        out.extend((v / 2**31) for v in struct.unpack("<16i", digest))
        counter += 1
    out = out[:dimensions]
    norm = math.sqrt(sum(v * v for v in out)) or 1.0
    return [v / norm for v in out]

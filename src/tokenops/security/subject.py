"""What the detectors keep per key, what they are told of each request, and what they report.

A key's state is bounded whatever its traffic: fixed-size windows of bins, sketches and flags,
the last minute of output, a capped sample of end users and addresses. No text is kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tokenops.security.prompt import Prompt
from tokenops.security.window import Window

DISTILL_WINDOW = 24
ENUM_WINDOW = 30
BLEND_EVERY = 32


@dataclass(frozen=True, slots=True)
class Observation:
    at: float
    tenant: str
    key: str
    input_tokens: int
    output_tokens: int
    prompt: Prompt | None = None
    client: str | None = None
    end_user: str | None = None
    session: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    detector: str
    score: float
    evidence: dict[str, Any]


@dataclass(slots=True)
class Blend:
    """A key's last mixture test: it costs a few hundred microseconds, so it is reused for BLEND_EVERY requests."""

    next_at: int = 0  # the key's request count from which it is computed again
    inside: bool = False  # whether a mixture of benign profiles came within the limit


class Rolling:
    """The last `capacity` values and their sum, kept in step."""

    __slots__ = ("capacity", "sum", "values")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values: deque[float] = deque()
        self.sum = 0.0

    def __len__(self) -> int:
        return len(self.values)

    def add(self, value: float) -> None:
        if len(self.values) == self.capacity:
            self.sum -= self.values.popleft()
        self.values.append(value)
        self.sum += value

    def mean(self) -> float:
        return self.sum / len(self.values) if self.values else 0.0


class Timed:
    """Requests and their output tokens over the last `span_s`, in one-second buckets: bounded by the span,
    not by the rate (a key sending a thousand requests a second keeps at most `span_s` buckets)."""

    __slots__ = ("buckets", "count", "span_s", "total")

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.buckets: deque[list[int]] = deque()  # [second, requests, tokens]
        self.count = 0
        self.total = 0

    def add(self, at: float, tokens: int) -> None:
        second = int(at)
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1][1] += 1
            self.buckets[-1][2] += tokens
        else:
            self.buckets.append([second, 1, tokens])
        self.count += 1
        self.total += tokens
        self.trim(at)

    def trim(self, now: float) -> None:
        while self.buckets and self.buckets[0][0] <= now - self.span_s:
            _, requests, tokens = self.buckets.popleft()
            self.count -= requests
            self.total -= tokens

    def per_minute(self, now: float, alive_s: float) -> float:
        """Tokens a minute over the span, or over `alive_s` where that is shorter (a young key's life)."""
        self.trim(now)
        return self.total * 60.0 / max(min(self.span_s, alive_s), 1.0)


@dataclass(slots=True)
class KeyState:
    tenant: str
    first_at: float
    last_at: float = 0.0
    requests: int = 0
    window: Window = field(default_factory=Window)
    sketches: deque[int] = field(default_factory=deque)
    distill: Rolling = field(default_factory=lambda: Rolling(DISTILL_WINDOW))  # how much each looks like distillation
    enum: Rolling = field(default_factory=lambda: Rolling(ENUM_WINDOW))  # ... like one more item of a template
    recent: Timed = field(default_factory=lambda: Timed(60.0))  # output in the velocity window
    harvest: Timed = field(default_factory=lambda: Timed(300.0))  # one-shot answers that outweigh their question
    ratio: float = 0.0  # output/input, averaged
    addresses: dict[str, float] = field(default_factory=dict)
    users: deque[str | None] = field(default_factory=deque)  # the end user of each request in the window
    user_counts: dict[str, int] = field(default_factory=dict)
    system: tuple[str, int] = ("", 0)  # the last system prompt's head and its cues (agents resend the same one)
    blend: Blend = field(default_factory=Blend)
    app: bool = False  # its requests have shown an app's end-user spread
    past_limit: int = 0  # consecutive windows the window test found past the benign limit
    scores: dict[str, float] = field(default_factory=dict)  # each detector's latest score, met or not

    def add_user(self, user: str | None, capacity: int) -> None:
        if len(self.users) == capacity:
            old = self.users.popleft()
            if old is not None:
                left = self.user_counts[old] - 1
                if left:
                    self.user_counts[old] = left
                else:
                    del self.user_counts[old]
        self.users.append(user)
        if user is not None:
            self.user_counts[user] = self.user_counts.get(user, 0) + 1

    def rate(self, now: float) -> float:
        """Output tokens per minute over the velocity window, or over the key's life when it is younger (no
        warm-up: a key's first requests count at once, never diluted by a minute it did not live; 10 s at least)."""
        return self.recent.per_minute(now, max(now - self.first_at, 10.0))

    def harvest_rate(self, now: float) -> float:
        """Harvest-shaped output tokens per minute over its window, or over the key's life (a minute at least)."""
        return self.harvest.per_minute(now, max(now - self.first_at, 60.0))

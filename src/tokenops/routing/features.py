"""Turn a chat request into the sparse string features the complexity scorer weighs.

Work is bounded: only a head and a tail of the request's last user (or tool) turn are
tokenised, and only the last messages are counted, so a 200k-token session costs about
what a short prompt costs.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokenops.routing.cues import GROUPS, QUESTION_WORDS, WORD_GROUPS, WRITING_VERBS

HEAD_CHARS = 512
TAIL_CHARS = 2048
MAX_MESSAGES = 64

_TOKEN = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")
_MATH_MARKS = ("=", "+", "*", "/", "^", "<", ">", "\\", "√", "π", "∑", "∫")
_CODE_MARKS = ("```", "def ", "return ", "{", "}", ";", "()", "==")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_CHOICES = re.compile(r"(?:^|\n)\s*\(?[A-D][).:]\s")


@dataclass(frozen=True, slots=True)
class Prompt:
    """The parts of a request the scorer looks at."""

    text: str  # bounded: head + tail of the last user or tool turn
    total_chars: int  # of every counted message, not only the bounded text
    turns: int
    tools: int
    has_system: bool
    opening: str = ""  # bounded head of the conversation's first user turn, when a later turn is scored


def _opening(messages: Sequence[Any], last: Mapping[str, Any] | None) -> str:
    """The first user turn's head: a follow-up ("now in Python") keeps the task the conversation opened with."""
    for message in messages[:MAX_MESSAGES]:
        if isinstance(message, Mapping) and message.get("role") == "user":
            return "" if message is last else _content_text(message.get("content"))[:HEAD_CHARS]
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def _bounded(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def prompt_of_chat(body: Mapping[str, Any]) -> Prompt:
    """Extract the scored parts of an OpenAI chat body (`messages`, `tools`)."""
    messages = body.get("messages")
    if not isinstance(messages, Sequence) or isinstance(messages, str):
        messages = []
    recent = messages[-MAX_MESSAGES:]
    last = ""
    total = 0
    first = messages[0] if messages else None
    has_system = isinstance(first, Mapping) and first.get("role") in ("system", "developer")
    for message in recent:
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        content = message.get("content")
        length = len(content) if isinstance(content, str) else len(_content_text(content))
        total += length
        has_system = has_system or role in ("system", "developer")
    scored = None
    for message in reversed(recent):
        if isinstance(message, Mapping) and message.get("role") in ("user", "tool"):
            scored = message
            last = _bounded(_content_text(message.get("content")))
            break
    tools = body.get("tools")
    return Prompt(
        opening=_opening(messages, scored),
        text=last,
        total_chars=total,
        turns=len(messages),
        tools=len(tools) if isinstance(tools, Sequence) else 0,
        has_system=has_system,
    )


def prompt_of_text(text: str) -> Prompt:
    """A single user prompt, as in the evaluation data."""
    return Prompt(text=_bounded(text), total_chars=len(text), turns=1, tools=0, has_system=False)


def _bucket(value: float) -> int:
    return min(16, int(math.log2(1.0 + value)))


def _marks(prompt: Prompt) -> tuple[str, ...]:
    """Marks of math and code in the text, and the conversation's shape: turns, tools, system prompt."""
    text = prompt.text
    return (
        f"math:{_bucket(sum(text.count(m) for m in _MATH_MARKS))}",
        f"code:{_bucket(sum(text.count(m) for m in _CODE_MARKS))}",
        f"turns:{_bucket(prompt.turns)}",
        f"tools:{_bucket(prompt.tools)}",
        f"system:{int(prompt.has_system)}",
    )


def features(prompt: Prompt) -> list[str]:
    """Sparse binary features: word unigrams and bigrams plus a few structural buckets."""
    text = prompt.text
    tokens = _TOKEN.findall(text.lower())
    words = [t for t in tokens if t.isalpha()]
    numbers = sum(1 for t in tokens if t.isdigit())
    symbols = len(tokens) - len(words) - numbers
    out = {f"u:{w}" for w in tokens}
    out.update(f"b:{a} {b}" for a, b in itertools.pairwise(words))
    out.update(f"s:{w}" for w in _SHOUT.findall(text))
    n = max(1, len(tokens))
    out.update(
        (
            "bias",
            f"len:{_bucket(prompt.total_chars)}",
            f"lines:{_bucket(text.count(chr(10)))}",
            f"num:{int(10 * numbers / n)}",
            f"sym:{int(10 * symbols / n)}",
            *_marks(prompt),
        )
    )
    return list(out)


def features_v2(prompt: Prompt) -> list[str]:
    """What the task is and how big, in forms that carry over between kinds of prompts.

    Word groups (math, code, reasoning, writing, ...) with their counts and their share of
    the words, the dominant group crossed with length and numbers, the prompt's shape
    (length, lines, sentences, numbers, question or request, answer choices, marks of math
    and code) and the conversation's (turns, tools, system prompt). The word groups also count
    the conversation's opening request, so a short follow-up keeps its task. No words of their own:
    held out of training, MMLU's APGR fell from 0.510 to 0.447 with the words common to three
    or more kinds added (bench/results/routing-kinds.md).
    """
    text = prompt.text
    tokens = _TOKEN.findall(text.lower())
    words = [t for t in tokens if t.isalpha()]
    numbers = sum(1 for t in tokens if t.isdigit())
    counts = dict.fromkeys(GROUPS, 0)
    opening = [t for t in _TOKEN.findall(prompt.opening.lower()) if t.isalpha()] if prompt.opening else []
    for word in words + opening:
        for group in WORD_GROUPS.get(word, ()):
            counts[group] += 1
    length = _bucket(len(words))
    nums = _bucket(numbers)
    out: set[str] = set()
    n = max(1, len(words))
    for group, count in counts.items():
        if count:
            out.add(f"g:{group}:{_bucket(count)}")
            out.add(f"gf:{group}:{min(4, 10 * count // n)}")
            out.add(f"gx:{group}:len{length}")
    top = max(GROUPS, key=lambda g: counts[g]) if any(counts.values()) else "none"
    first = words[0] if words else ""
    out.update(
        (
            "bias",
            f"len:{length}",
            f"chars:{_bucket(prompt.total_chars)}",
            f"nums:{nums}",
            f"lines:{_bucket(text.count(chr(10)))}",
            f"sent:{_bucket(len(_SENTENCE_END.findall(text)))}",
            f"q:{int(text.rstrip().endswith('?'))}",
            f"wh:{int(first in QUESTION_WORDS)}",
            f"ask:{int(first in WRITING_VERBS)}",
            f"choices:{int(bool(_CHOICES.search(text)))}",
            f"top:{top}",
            f"top:{top}:len{length}",
            f"top:{top}:nums{nums}",
            *_marks(prompt),
        )
    )
    return list(out)


FEATURE_SETS = {"v1": features, "v2": features_v2}

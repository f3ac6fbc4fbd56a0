"""Kinds of prompts, told apart by structure alone: per-kind curves and leave-one-kind-out training.

The rules look at form, not topic, so they cost microseconds and need no training:
tool use and long conversations first, then code, symbolic math, numeric word problems,
logic puzzles, long passages, writing requests, questions; whatever is left is open chat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

KINDS = ("agent", "conversation", "code", "math", "math-word", "reading", "logic", "writing", "question", "chat")

READING_CHARS = 1000  # a passage to read before the question
CONVERSATION_TURNS = 3  # user turns

_CODE = re.compile(
    r"```|^\s*(?:def |class |import |from \S+ import |#include|function |public |SELECT |CREATE TABLE)"
    r"|\bwrite an? (?:python |java |c\+\+ |javascript |rust |go |sql |bash |shell )?"
    r"(?:function|program|script|class|query|method)\b",
    re.IGNORECASE | re.MULTILINE,
)
LATEX = re.compile(r"\\[a-zA-Z]+|\$[^$\d\s][^$]*\$")
_EQUATION = re.compile(r"[a-z]\s*[\^=]\s*\d|\d\s*[a-z]\s*[+\-=]|[=<>≤≥]\s*-?\d")
DIGIT = re.compile(r"\d")
_LOGIC = re.compile(
    r"\b(?:puzzle|riddle|clues?|knights? and knaves|truth-tellers?|liars?|houses? in a row|each person)\b",
    re.IGNORECASE,
)
_WORD_LIST = re.compile(r"[a-z]+(?:, [a-z]+){5,}")
_WRITING = re.compile(
    r"^\s*(?:please\s+)?(?:write|compose|draft|rewrite|paraphrase|create|generate|imagine|pretend|act as|"
    r"tell me a (?:story|joke)|give me a (?:story|poem|slogan)|summari[sz]e|translate|edit|proofread|describe)\b"
    r"|\b(?:poem|story|essay|blog post|cover letter|email|tweet|slogan|lyrics|haiku|limerick)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(?:who|what|when|where|which|why|how|whom|whose|is|are|was|were|does|do|did|can|could|should|would|will)\b",
    re.IGNORECASE,
)


def of_text(text: str) -> str:
    """The kind of one prompt's text."""
    stripped = text.strip()
    if _CODE.search(stripped):
        return "code"
    if LATEX.search(stripped) or _EQUATION.search(stripped):
        return "math"
    if _WORD_LIST.fullmatch(stripped):
        return "writing"
    if _LOGIC.search(stripped):
        return "logic"
    if len(stripped) > READING_CHARS:
        return "reading"
    if DIGIT.search(stripped) and not _WRITING.search(stripped):
        return "math-word"
    if _WRITING.search(stripped):
        return "writing"
    if stripped.endswith("?") or _QUESTION_START.match(stripped):
        return "question"
    return "chat"


def of_chat(body: Mapping[str, Any], last_text: str) -> str:
    """The kind of a chat request: agents and long conversations by their shape, else by the last user text."""
    messages = body.get("messages")
    if not isinstance(messages, Sequence) or isinstance(messages, str):
        messages = []
    roles = [m.get("role") for m in messages if isinstance(m, Mapping)]
    if body.get("tools") or "tool" in roles:
        return "agent"
    if roles.count("user") >= CONVERSATION_TURNS:
        return "conversation"
    return of_text(last_text)

"""Compaction keeps the request valid, the diagnostics verbatim, and fits the target."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tokenops.compaction import TokenCache, compact
from tokenops.compaction.evaluate import invented
from tokenops.compaction.sessions import generate
from tokenops.tokenize import count_messages, counter_for

COUNTER = counter_for("cl100k")


@functools.cache
def _session(tokens: int = 30_000, seed: int = 7, kind: str = "ops") -> tuple[Any, ...]:
    messages, labels = generate("t", seed, tokens, kind)
    return tuple(messages), labels


def session(tokens: int = 30_000, seed: int = 7, kind: str = "ops") -> list[dict[str, Any]]:
    return [dict(m) for m in _session(tokens, seed, kind)[0]]


def assert_pairing(messages: list[dict[str, Any]]) -> None:
    """Every tool result answers a call of the assistant message before it, and every call is answered."""
    pending: set[str] = set()
    for m in messages:
        if m["role"] == "tool":
            assert m["tool_call_id"] in pending, m["tool_call_id"]
            pending.discard(m["tool_call_id"])
            continue
        assert not pending, f"unanswered tool calls {pending}"
        pending = {c["id"] for c in m.get("tool_calls") or ()}
    assert not pending


@pytest.mark.parametrize("ratio", [2, 4, 8, 20])
def test_tool_pairing_is_preserved(ratio: int) -> None:
    messages = session()
    target = count_messages(COUNTER, messages) // ratio
    result = compact(messages, counter=COUNTER, target_tokens=target, keep_recent=5)
    assert result.compacted
    assert_pairing(result.messages)


def test_system_prompt_and_recent_turns_stay_verbatim() -> None:
    messages = [
        *session(),
        {"role": "user", "content": "Summarise what you found so far."},
        {"role": "assistant", "content": "The AMF lost its SCTP association at 09:41."},
        {"role": "user", "content": "Which cells are affected?"},
    ]
    result = compact(messages, counter=COUNTER, target_tokens=count_messages(COUNTER, messages) // 4, keep_recent=3)
    assert result.messages[0] == messages[0]
    assert result.messages[-3:] == messages[-3:]
    assert result.kept_verbatim == (0, len(messages) - 3, len(messages) - 2, len(messages) - 1)
    digest = result.messages[1]
    assert digest["role"] == "user" and "condensed by the gateway" in digest["content"]


def test_diagnostic_lines_survive_among_routine_logs() -> None:
    noise = "\n".join(f"2024-05-14T10:{i % 60:02d}:00Z INFO request_id=req-{i:06x} GET /cells 200" for i in range(3000))
    error = "2024-05-14T10:21:07Z ERROR amf: SCTP association lost cell=cell-460-01-31207-3 request_id=req-9f3a2b"
    frame = "\tat com.telco.ran.SessionService.process(SessionService.java:214)"
    python_frame = '  File "/srv/telco/ran/cells.py", line 88, in apply'
    exception = "java.lang.IllegalStateException: bearer busy"
    log = f"{noise}\n{error}\n{exception}\n{frame}\n{noise}\n{python_frame}\nexit code: 2"
    messages = [
        {"role": "system", "content": "You are an operations agent."},
        {"role": "user", "content": "Why do registrations fail on cell-460-01-31207-3?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("c1", "kubectl logs amf-0")]},
        {"role": "tool", "tool_call_id": "c1", "content": log},
        {"role": "assistant", "content": "The AMF lost its SCTP association."},
        {"role": "user", "content": "Go on."},
    ]
    result = compact(messages, counter=COUNTER, target_tokens=count_messages(COUNTER, messages) // 8, keep_recent=2)
    digest = result.messages[1]["content"]
    for line in (error, exception, frame, python_frame, "exit code: 2"):
        assert line in digest
    assert "kubectl logs amf-0" in digest  # the failing command
    assert result.stats.error_lines_kept == result.stats.error_lines


def _call(call_id: str, command: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "shell", "arguments": f'{{"command": "{command}"}}'},
    }


@pytest.mark.parametrize("kind", ["ops", "code"])
def test_no_identifier_is_invented(kind: str) -> None:
    messages = session(40_000, 11, kind)
    for ratio in (2, 8):
        target = count_messages(COUNTER, messages) // ratio
        result = compact(messages, counter=COUNTER, target_tokens=target)
        assert invented(messages, result.messages) == []


@pytest.mark.parametrize("ratio", [1.5, 3, 6, 10])
def test_target_size_is_reached_and_counted_exactly(ratio: float) -> None:
    messages = session()
    target = int(count_messages(COUNTER, messages) / ratio)
    result = compact(messages, counter=COUNTER, target_tokens=target)
    assert result.fits
    assert result.tokens_after <= target
    assert result.tokens_after == count_messages(COUNTER, result.messages)
    assert result.tokens_after >= 0.9 * target  # the budget is used, not wasted
    assert result.tokens_before == count_messages(COUNTER, messages)


def test_compaction_is_deterministic() -> None:
    messages = session()
    target = count_messages(COUNTER, messages) // 5
    first = compact(messages, counter=COUNTER, target_tokens=target)
    second = compact(session(), counter=COUNTER, target_tokens=target, cache=TokenCache(COUNTER))
    assert first.messages == second.messages


def test_a_conversation_that_fits_is_returned_unchanged() -> None:
    messages = session(5_000)
    result = compact(messages, counter=COUNTER, target_tokens=100_000)
    assert not result.compacted and result.messages == messages
    assert result.tokens_after == result.tokens_before


def test_an_oversized_last_turn_is_condensed_in_place() -> None:
    log = "\n".join(f"INFO line {i} request_id=req-{i:06x} ok" for i in range(4000))
    log += "\nERROR upstream smf returned 503 request_id=req-dead01"
    messages = [
        {"role": "system", "content": "You are an operations agent."},
        {"role": "user", "content": "Check the logs."},
        {"role": "assistant", "content": None, "tool_calls": [_call("c9", "kubectl logs smf-1")]},
        {"role": "tool", "tool_call_id": "c9", "content": log},
    ]
    result = compact(messages, counter=COUNTER, target_tokens=2_000)
    assert result.fits and result.tokens_after <= 2_000
    assert_pairing(result.messages)
    assert "ERROR upstream smf returned 503 request_id=req-dead01" in result.messages[-1]["content"]
    assert result.messages[0] == messages[0]

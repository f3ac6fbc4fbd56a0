"""Kinds of prompts told apart by their structure."""

from __future__ import annotations

import pytest

from tokenops.routing import kinds


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Write a python function to reverse a linked list.", "code"),
        ("def add(a, b):\n    return a + b\n# why does this fail?", "code"),
        ("Find all real $x$ such that $x^2 - 5x + 6 = 0$.", "math"),
        ("Solve 3x + 4 = 19 for x.", "math"),
        ("A shop sells 12 apples a day for 3 days. How many apples does it sell?", "math-word"),
        ("There are 3 houses in a row. Each person owns a different pet. Who owns the fish?", "logic"),
        ("Write a short poem about the sea at night.", "writing"),
        ("apple, river, stone, lamp, bridge, cloud, tiger", "writing"),
        ("Who painted the ceiling of the Sistine Chapel?", "question"),
        ("Tell me about your weekend plans", "chat"),
        ("Once upon a time " + "the long passage goes on. " * 60 + "What is the main idea?", "reading"),
    ],
)
def test_a_prompts_kind_is_told_by_its_structure(text: str, kind: str) -> None:
    assert kinds.of_text(text) == kind
    assert kind in kinds.KINDS


def test_a_chat_request_with_tools_is_an_agent_turn_and_a_long_one_a_conversation() -> None:
    tools = [{"type": "function", "function": {"name": "search"}}]
    assert kinds.of_chat({"messages": [{"role": "user", "content": "hi"}], "tools": tools}, "hi") == "agent"
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": "more"} for i in range(6)]
    assert kinds.of_chat({"messages": turns}, "more") == "conversation"
    assert kinds.of_chat({"messages": turns[:1]}, "What is 2 + 2?") == "math-word"

"""The fidelity measure itself: identifiers found as themselves, conversations checked for validity."""

from __future__ import annotations

from tokenops.compaction.evaluate import identifier_kept, tokens
from tokenops.compaction.validity import problems


def _kept(identifier: str, text: str) -> bool:
    return identifier_kept(identifier, text, tokens([text]))


def test_an_identifier_counts_inside_a_longer_token_only_with_no_alphanumeric_joined_on() -> None:
    assert _kept("10.0.0.1", "connect to 10.0.0.1:5060 failed")
    assert _kept("HundredGigE0/0/0/1", "Interface HundredGigE0/0/0/1, changed state to Down")
    assert not _kept("10.0.0.1", "connect to 10.0.0.11:5060 failed")
    assert not _kept("abc123", "id xabc123 seen")
    assert not _kept("cell-42", "nothing here")


def test_a_valid_conversation_has_no_problems() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "kubectl", "arguments": "{}"}}
    ok = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": None, "tool_calls": [call, {**call, "id": "c2"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "b"}]},
    ]
    assert problems(ok) == []


def test_unpaired_tool_calls_and_results_are_problems() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "kubectl", "arguments": "{}"}}
    assert problems([{"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "user", "content": "u"}])
    assert problems([{"role": "user", "content": "u"}, {"role": "tool", "tool_call_id": "c1", "content": "x"}])
    assert problems([{"role": "assistant", "content": None}])
    assert problems([{"role": "robot", "content": "x"}])

"""Whether a conversation is one an OpenAI-compatible server accepts: roles, contents, tool calls paired."""

from __future__ import annotations

from collections.abc import Sequence

from tokenops.compaction.counting import Message

_ROLES = {"system", "developer", "user", "assistant", "tool"}


def problems(messages: Sequence[Message]) -> list[str]:
    """What makes the conversation invalid, one line each; empty when it is valid."""
    found: list[str] = []
    open_calls: dict[str, int] = {}  # call id -> index of the assistant message, until answered
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in _ROLES:
            found.append(f"#{i}: unknown role {role!r}")
            continue
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            found.append(f"#{i}: content is neither text nor a list of parts")
        if role == "tool":
            call_id = m.get("tool_call_id")
            if call_id not in open_calls:
                found.append(
                    f"#{i}: tool result {call_id!r} answers no pending call of the assistant message before it"
                )
            else:
                del open_calls[call_id]
            continue
        for call_id, at in open_calls.items():
            found.append(f"#{at}: tool call {call_id!r} has no result")
        open_calls = {}
        calls = m.get("tool_calls") or []
        if calls and role != "assistant":
            found.append(f"#{i}: tool calls on a {role} message")
        if role == "assistant" and content is None and not calls:
            found.append(f"#{i}: assistant message with neither content nor tool calls")
        for call in calls:
            call_id = call.get("id") if isinstance(call, dict) else None
            fn = call.get("function") if isinstance(call, dict) else None
            if not call_id or not isinstance(fn, dict) or not fn.get("name"):
                found.append(f"#{i}: a tool call without an id or a function name")
            elif call_id in open_calls:
                found.append(f"#{i}: tool call id {call_id!r} used twice")
            else:
                open_calls[call_id] = i
    found += [f"#{at}: tool call {call_id!r} has no result" for call_id, at in open_calls.items()]
    return found

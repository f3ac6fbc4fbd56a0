"""The held-out field generator: seeded, its labels planted as written, its sessions valid conversations."""

from __future__ import annotations

from tokenops.compaction import field
from tokenops.compaction.evaluate import message_strings
from tokenops.compaction.validity import problems


def test_field_sessions_are_seeded_labelled_as_written_and_valid() -> None:
    for k, (_, _, _, kind) in enumerate(field.FIELD_SET):
        messages, labels = field.generate(f"t-{kind}", 90 + k, 25_000, kind)
        assert field.generate(f"t-{kind}", 90 + k, 25_000, kind)[0] == messages
        text = "\n".join(part for m in messages for part in message_strings(m))
        assert labels.root_cause and set(labels.root_cause) <= set(labels.error_lines) | set(labels.stack_frames)
        assert all(line in text for line in [*labels.error_lines, *labels.stack_frames, *labels.warning_lines])
        assert all(i in "\n".join(labels.error_lines) for i in labels.identifiers)
        assert problems(messages) == []
        assert labels.red_herrings and labels.tokens >= 25_000

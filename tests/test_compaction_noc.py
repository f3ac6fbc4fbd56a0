"""The NOC session generator: seeded, honest about what it planted, and independent of the compactor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tokenops.compaction import noc
from tokenops.compaction.evaluate import SessionLabels, message_strings, score
from tokenops.compaction.validity import problems
from tokenops.tokenize import counter_for

NOC = Path(noc.__file__).parent


@pytest.fixture(scope="module")
def sessions() -> dict[str, tuple[list[dict[str, object]], noc.Labels]]:
    return {s: noc.generate(f"t-{s}", 40 + k, 30_000, s) for k, s in enumerate(noc.SCENARIOS)}


def _text(messages: list[dict[str, object]]) -> str:
    return "\n".join(part for m in messages for part in message_strings(m))


def test_the_same_seed_gives_the_same_session_and_another_seed_another() -> None:
    a, la = noc.generate("a", 7, 20_000, "optic")
    b, lb = noc.generate("a", 7, 20_000, "optic")
    c, _ = noc.generate("a", 8, 20_000, "optic")
    assert a == b and la == lb
    assert a != c


def test_every_labelled_line_is_in_the_session_as_written(
    sessions: dict[str, tuple[list[dict[str, object]], noc.Labels]],
) -> None:
    for messages, labels in sessions.values():
        lines = {line.strip() for m in messages for line in _text([m]).splitlines()}
        for item in [*labels.error_lines, *labels.stack_frames, *labels.warning_lines]:
            assert item in lines, item
        assert set(labels.root_cause) <= set(labels.error_lines) | set(labels.stack_frames)
        assert set(labels.error_styles) == set(labels.error_lines)
        on_error_lines = "\n".join(labels.error_lines)
        assert all(i in on_error_lines for i in labels.identifiers)
        assert labels.tokens >= 30_000


def test_the_root_cause_comes_early_and_the_red_herrings_late(
    sessions: dict[str, tuple[list[dict[str, object]], noc.Labels]],
) -> None:
    for messages, labels in sessions.values():
        assert labels.root_cause and labels.red_herrings
        assert 0 < labels.root_cause_turn < labels.red_herring_turn < len(messages)
        early = _text(messages[: labels.root_cause_turn + 1])
        assert all(line in early for line in labels.root_cause)
        late = _text(messages[labels.red_herring_turn :])
        herrings = set(labels.red_herrings)
        assert all(line in late for line in herrings)
        # Only generic lines (a traceback's first line) may also occur before the first red herring.
        assert sum(line not in early for line in herrings) >= 0.8 * len(herrings)


def test_sessions_are_valid_conversations_with_parallel_calls_and_part_lists(
    sessions: dict[str, tuple[list[dict[str, object]], noc.Labels]],
) -> None:
    messages, _ = noc.generate("long", 3, 120_000, "dbpool")
    assert problems(messages) == []
    assert any(len(m.get("tool_calls") or []) > 1 for m in messages)  # type: ignore[arg-type]
    assert any(isinstance(m.get("content"), list) for m in messages)
    for messages, _ in sessions.values():
        assert problems(messages) == []


def test_the_set_covers_many_formats_runtimes_and_chained_causes(
    sessions: dict[str, tuple[list[dict[str, object]], noc.Labels]],
) -> None:
    styles = {s for _, labels in sessions.values() for s in labels.error_styles.values()}
    languages = {s for _, labels in sessions.values() for s in labels.frame_styles.values()}
    logs = styles & {
        *("log4j", "logback", "jul", "logfmt", "json-level", "json-ecs", "json-severity", "json-bunyan", "json-clef"),
        *("journald-json", "klog", "glog", "kamailio", "nginx-error", "nginx-access", "postgres", "rfc5424"),
        *("rfc3164", "syslog", "journald", "ios-xr", "nx-os", "junos", "vrp", "python-logging", "zap", "erlang"),
        *("dmesg", "coredns", "freediameter"),
    }
    assert len(logs) >= 16, sorted(logs)
    assert {"sip-raw", "sip-ngrep", "sip-sngrep", "sip-tshark-fields", "sip-homer"} <= styles
    assert {"java", "python", "go"} <= languages
    text = "\n".join(_text(m) for m, _ in sessions.values())
    assert "Caused by: " in text and "goroutine " in text
    assert "During handling of the above exception" in text or "direct cause of the following exception" in text


def test_the_generator_reads_nothing_of_the_compactor() -> None:
    """Its labels come from what it writes: no module of it imports the compactor or its evaluation."""
    for path in NOC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tokenops"):
                assert node.module.startswith(("tokenops.compaction.noc", "tokenops.tokenize")), (
                    path.name,
                    node.module,
                )


@pytest.mark.parametrize("ratio", [4.0, 8.0])
def test_compaction_keeps_the_diagnostics_and_root_cause_of_a_noc_session(ratio: float) -> None:
    messages, planted = noc.generate("fidelity", 11, 60_000, "optic")
    labels = SessionLabels(
        planted.error_lines, planted.stack_frames, planted.identifiers, planted.warning_lines,
        planted.failing_commands, planted.frame_references, "file", "noc", planted.root_cause,
    )  # fmt: skip
    result = score("fidelity", messages, labels, ratio, counter_for("cl100k"))
    assert result.tokens_after <= result.target_tokens
    assert result.root_cause_whole and result.valid and result.invented_identifiers == 0
    assert result.error_lines_kept >= 0.99 and result.identifiers_kept >= 0.99

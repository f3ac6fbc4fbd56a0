"""`tokenops compaction evaluate` and `apply` on small generated sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tokenops.cli.main import main
from tokenops.compaction.sessions import generate, write_session
from tokenops.tokenize import count_messages, counter_for

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "session",
    "ratio",
    "tokens_before",
    "tokens_after",
    "error_lines_kept",
    "stack_frames_kept",
    "identifiers_kept",
    "invented_identifiers",
}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sessions")
    messages, labels = generate("small-ops", 5, 40_000, "ops")
    write_session(folder, messages, labels)
    return folder


def test_evaluate_json_has_one_object_per_session_and_ratio(sessions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compaction", "evaluate", "--sessions", str(sessions), "--ratios", "2,4", "--json"]) == 0
    rows = orjson.loads(capsys.readouterr().out)
    assert [(r["session"], r["ratio"]) for r in rows] == [("small-ops", 2.0), ("small-ops", 4.0)]
    for row in rows:
        assert row.keys() >= KEYS
        assert row["invented_identifiers"] == 0
        assert row["error_lines_kept"] == 1.0 and row["identifiers_kept"] == 1.0
        assert row["tokens_after"] <= row["tokens_before"] / row["ratio"] + 1
        assert row["labels"] == "file"


def test_evaluate_labels_a_session_without_labels_by_the_fallback(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(sessions / "small-ops.jsonl", tmp_path / "recorded.jsonl")
    assert main(["compaction", "evaluate", "--sessions", str(tmp_path), "--ratios", "4", "--json"]) == 0
    (row,) = orjson.loads(capsys.readouterr().out)
    assert row["labels"] == "heuristic" and row["items"]["error_lines"] > 0 and row["invented_identifiers"] == 0


def test_apply_writes_valid_openai_jsonl_that_fits_the_window(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compaction", "apply", "--session", str(sessions / "small-ops.jsonl"), "--model", "tele-lite"]
    assert main([*args, "--config", str(ROOT / "examples" / "demo.yaml")]) == 0
    captured = capsys.readouterr()
    messages = [orjson.loads(line) for line in captured.out.splitlines()]
    assert all(m["role"] in {"system", "user", "assistant", "tool"} for m in messages)
    assert all(isinstance(m.get("content"), str) or m.get("tool_calls") for m in messages)
    assert count_messages(counter_for("cl100k"), messages) <= int(32_768 * 0.85)
    report = orjson.loads(captured.err)
    assert report["tokens_before"] > 32_768 and report["tokens_after"] <= report["target"]


def test_apply_with_a_ratio(sessions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "compaction",
        "apply",
        "--session",
        str(sessions / "small-ops.jsonl"),
        "--model",
        "tele-max",
        "--ratio",
        "5",
    ]
    assert main(args) == 0
    report = orjson.loads(capsys.readouterr().err)
    assert report["tokens_after"] <= report["tokens_before"] / 5 + 1


def test_apply_refuses_an_unknown_model(sessions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compaction", "apply", "--session", str(sessions / "small-ops.jsonl"), "--model", "nope"]
    assert main(args) == 2
    assert "no such model" in capsys.readouterr().err


def test_generate_writes_the_noc_sessions_and_evaluate_scores_their_root_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compaction", "generate", "--generator", "noc", "--out", str(tmp_path), "--only", "noc-optic-55k"]
    assert main(args) == 0
    labels = orjson.loads((tmp_path / "noc-optic-55k.labels.json").read_bytes())
    assert labels["generator"] == "noc" and labels["root_cause"] and labels["error_styles"]
    capsys.readouterr()
    assert main(["compaction", "evaluate", "--sessions", str(tmp_path), "--ratios", "4", "--json"]) == 0
    (row,) = orjson.loads(capsys.readouterr().out)
    assert row["generator"] == "noc" and row["valid"] is True
    assert row["items"]["root_cause"] == len(set(labels["root_cause"]))
    assert sum(found for found, _ in row["by_style"].values()) == row["items"]["error_lines"]
    assert 0 <= row["root_cause_kept"] <= 1 and row["root_cause_whole"] == (row["root_cause_kept"] == 1)

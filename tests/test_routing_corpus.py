"""A corpus of several kinds: kinds split by structure, numeric prose left out, copies dropped, kinds held out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from tokenops.cli.main import main
from tokenops.errors import ConfigError
from tokenops.routing import kinds
from tokenops.routing.corpus import load_corpus, read_manifest
from tokenops.routing.model import ComplexityRouter

DATA = Path(__file__).parent / "data" / "routing"
MANIFEST = DATA / "corpus.yaml"


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("prompt,small,large,larger\n" + "".join(f'"{p}",{w},{s},{s}\n' for p, w, s in rows))
    return path


def test_the_shipped_recipe_reads_every_kind_with_its_own_scale() -> None:
    rows = load_corpus(read_manifest(MANIFEST))
    by_kind = Counter(r.kind for r in rows)
    assert {"mmlu", "math", "chat", "question", "code"} <= set(by_kind)
    chat = [r for r in rows if r.kind == "chat"]
    assert all((r.lo, r.hi) == (1.0, 10.0) for r in chat)  # a judge's 1-10 ratings
    assert all((r.lo, r.hi) == (0.0, 1.0) for r in rows if r.kind == "mmlu")
    assert not any(r.kind in ("math-word", "chat") and "llmrouter" in r.prompt for r in rows)


def test_numeric_prose_is_left_out_and_kinds_are_renamed_and_repaired(tmp_path: Path) -> None:
    _csv(
        tmp_path / "mixed.csv",
        [
            ("A farmer has 12 cows and buys 7 more. How many cows does he have?", "0", "1"),
            ("Write a python function to add two numbers.", "0", "1"),
            ("Find $x$ if $2x = 10$.", "1", "0"),
            ("Tell me something nice", "1", "1"),
        ],
    )
    (tmp_path / "m.yaml").write_text(
        "sources:\n  - {path: mixed.csv, kind: by-structure, weak: small, strong: large, exclude: numeric-prose,"
        " rename: {chat: question}, pairs: {math: {strong: larger}}}\n"
    )
    rows = load_corpus(read_manifest(tmp_path / "m.yaml"))
    assert sorted(r.kind for r in rows) == ["code", "math", "question"]  # the word problem never enters
    assert kinds.of_text("A farmer has 12 cows and buys 7 more. How many cows does he have?") == "math-word"


def test_a_prompt_another_source_holds_is_dropped(tmp_path: Path) -> None:
    _csv(tmp_path / "a.csv", [("What is the boiling point of water at sea level?\nA. 90\nB. 100\nAnswer:", "1", "1")])
    copy = ("What is the boiling point of water at sea level?", "0", "1")
    _csv(tmp_path / "b.csv", [copy, ("Name a poet.", "1", "1")])
    (tmp_path / "m.yaml").write_text(
        "sources:\n  - {path: a.csv, kind: first, weak: small, strong: large}\n"
        "  - {path: b.csv, kind: second, weak: small, strong: large}\n"
    )
    rows = load_corpus(read_manifest(tmp_path / "m.yaml"))
    assert [(r.kind, r.prompt[:12]) for r in rows] == [("first", "What is the "), ("second", "Name a poet.")]


def test_a_bad_manifest_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("sources:\n  - {path: x.csv, kind: k}\n")
    with pytest.raises(ConfigError, match="needs path, kind, weak and strong"):
        read_manifest(tmp_path / "m.yaml")
    (tmp_path / "n.yaml").write_text("sources:\n  - {path: x.csv, kind: k, weak: a, strong: b, exclude: nope}\n")
    with pytest.raises(ConfigError, match="unknown exclude rule"):
        read_manifest(tmp_path / "n.yaml")


def test_train_on_a_corpus_then_evaluate_per_kind_and_with_each_kind_held_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "router.json.gz"
    argv = ["routing", "train", "--corpus", str(MANIFEST), "--out", str(model), "--epochs", "2"]
    assert main([*argv, "--feature-set", "v2", "--target", "weak_fails"]) == 0
    router = ComplexityRouter.load(model)
    assert router.feature_set == "v2" and set(router.meta["kinds"]) >= {"mmlu", "chat", "math"}
    assert not any(k.startswith("kind-bias:") for k in router.weights)  # training-only, never shipped
    capsys.readouterr()

    assert main(["routing", "evaluate", "--corpus", str(MANIFEST), "--model", str(model), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["scope"].startswith("held-out") and report["training_prompts_excluded"] == router.meta["train_rows"]
    assert sum(k["n"] for k in report["kinds"].values()) == report["n"]
    assert "quality_scale" in report and report["strong_accuracy"] <= 1.0  # 0/1 and 1-10 sets put on one scale
    assert report["kinds"]["chat"]["strong_accuracy"] > 1.0  # each kind on its own

    out = tmp_path / "transfer.json"
    argv = ["routing", "evaluate", "--corpus", str(MANIFEST), "--model", str(model), "--held-out-kinds"]
    assert main([*argv, "--kind", "chat", "--kind", "math", "--kind", "code,question", "--out", str(out)]) == 0
    transfer = orjson.loads(out.read_bytes())
    assert set(transfer["held_out_kinds"]) == {"chat", "math", "code,question"}
    mixture = transfer["held_out_kinds"]["code,question"]  # held out together, judged as one mixture and apart
    assert set(mixture["kinds"]) == {"code", "question"} and not {"code", "question"} & set(mixture["trained_on_kinds"])
    assert mixture["n"] == sum(k["n"] for k in mixture["kinds"].values())
    chat = transfer["held_out_kinds"]["chat"]
    assert "chat" not in chat["trained_on_kinds"] and chat["n"] == 40
    assert transfer["recipe"]["feature_set"] == "v2" and transfer["recipe"]["target"] == "weak_fails"
    assert "Held-out kinds" in capsys.readouterr().out

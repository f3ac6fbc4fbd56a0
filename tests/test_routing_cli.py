"""`tokenops routing evaluate` and `train` on the sample of the MMLU routing data."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tokenops.cli.main import main

SAMPLE = Path(__file__).parent / "data" / "routing" / "mmlu_sample.csv"
COLUMNS = ["--weak", "mistralai/Mixtral-8x7B-Instruct-v0.1", "--strong", "gpt-4-1106-preview"]
KEYS = {"n", "weak_accuracy", "strong_accuracy", "cpt50", "cpt80", "cpt95", "apgr", "savings_at_95pct_strong_accuracy"}


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert isinstance(report, dict)
    return report


def test_evaluate_json_has_the_figures_as_fractions(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, ["routing", "evaluate", "--dataset", str(SAMPLE), *COLUMNS, "--json"])
    assert set(report) >= KEYS | {"random", "oracle", "curve"}
    for key in KEYS - {"n"}:
        value = report[key]
        assert isinstance(value, float) and 0.0 <= value <= 1.0, key
    random = report["random"]
    assert isinstance(random, dict) and random["apgr"] == 0.5
    curve = report["curve"]
    assert isinstance(curve, list) and curve[0]["strong_share"] == 0.0 and curve[-1]["strong_share"] == 1.0


def test_evaluate_leaves_out_the_shipped_routers_training_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, ["routing", "evaluate", "--dataset", str(SAMPLE), *COLUMNS, "--json"])
    excluded = report["training_prompts_excluded"]
    assert isinstance(excluded, int) and excluded > 0
    assert report["n"] == report["distinct_prompts"] - excluded  # type: ignore[operator]
    assert str(report["scope"]).startswith("held-out")


def test_evaluate_prints_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routing", "evaluate", "--dataset", str(SAMPLE), *COLUMNS]) == 0
    out = capsys.readouterr().out
    assert "CPT(95%)" in out and "oracle" in out and "random" in out


def test_train_writes_a_model_that_evaluate_uses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "router.json.gz"
    argv = ["routing", "train", "--dataset", str(SAMPLE), *COLUMNS, "--out", str(model), "--epochs", "2"]
    assert main(argv) == 0
    assert model.exists()
    capsys.readouterr()
    report = _json(capsys, ["routing", "evaluate", "--dataset", str(SAMPLE), *COLUMNS, "--model", str(model), "--json"])
    assert report["n"] == report["distinct_prompts"] - report["training_prompts_excluded"]  # type: ignore[operator]
    assert 50 < report["n"] < 150  # type: ignore[operator]


def test_other_data_is_evaluated_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "judge.csv"
    data.write_text("prompt,cheap,dear\nhello there,6,9\nprove the riemann hypothesis,2,7\nsay hi,9,9\n")
    report = _json(
        capsys, ["routing", "evaluate", "--dataset", str(data), "--weak", "cheap", "--strong", "dear", "--json"]
    )
    assert report["n"] == 3 and report["scope"] == "all rows"
    assert report["weak_accuracy"] == pytest.approx(17 / 3, abs=1e-4)


def test_a_missing_dataset_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routing", "evaluate", "--dataset", "/nonexistent", *COLUMNS]) == 2
    assert "no such file" in capsys.readouterr().err

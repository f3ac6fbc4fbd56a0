"""Reading routing data: quality columns, deduplication, contaminated prompts, the hash split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenops.errors import ConfigError
from tokenops.routing import dataset

SAMPLE = Path(__file__).parent / "data" / "routing"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["prompt,weak,strong"] + [f'"{p}",{w},{s}' for p, w, s in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("text", "value"),
    [("True", 1.0), ("false", 0.0), ("yes", 1.0), ("7", 7.0), ("8.5", 8.5), (" ", None)],
)
def test_quality_cells_parse_as_booleans_or_numbers(text: str, value: float | None) -> None:
    assert dataset.parse_quality(text) == value


def test_a_quality_cell_that_is_neither_is_an_error() -> None:
    with pytest.raises(ConfigError):
        dataset.parse_quality("maybe")


def test_numeric_judge_scores_are_read_as_numbers(tmp_path: Path) -> None:
    rows = dataset.read_rows(_write(tmp_path / "j.csv", [("a", "3", "9"), ("b", "7", "")]), "weak", "strong")
    assert rows == [dataset.Row("a", 3.0, 9.0)]  # a row missing a score is skipped


def test_missing_columns_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing column"):
        dataset.read_rows(_write(tmp_path / "a.csv", [("a", "True", "True")]), "weak", "nope")


def test_duplicates_keep_their_first_row() -> None:
    rows = [dataset.Row("a", 1, 1), dataset.Row("b", 0, 1), dataset.Row("a", 0, 0)]
    assert dataset.dedupe(rows) == rows[:2]


def test_folder_of_csvs_is_read_in_name_order(tmp_path: Path) -> None:
    _write(tmp_path / "b.csv", [("second", "True", "True")])
    _write(tmp_path / "a.csv", [("first", "False", "True")])
    assert [r.prompt for r in dataset.read_rows(tmp_path, "weak", "strong")] == ["first", "second"]


def test_contaminated_prompts_are_dropped(tmp_path: Path) -> None:
    _write(tmp_path / "data.csv", [("clean", "True", "True"), ("leaked", "False", "True"), ("clean", "True", "True")])
    line = {"train_prompt": "leaked?", "eval_prompt": "leaked", "train_idx": 1, "eval_idx": 2}
    (tmp_path / dataset.CONTAMINATED_FILE).write_text(json.dumps(line) + "\n")
    rows, read, dropped = dataset.load(tmp_path, "weak", "strong")
    assert read == 3 and dropped == 1
    assert [r.prompt for r in rows] == ["clean"]


def test_hash_split_is_reproducible_and_disjoint() -> None:
    rows = dataset.dedupe(dataset.read_rows(SAMPLE, WEAK, STRONG))
    train, heldout = dataset.split(rows)
    again_train, again_heldout = dataset.split(list(reversed(rows)))
    assert {r.prompt for r in train} == {r.prompt for r in again_train}
    assert {r.prompt for r in heldout} == {r.prompt for r in again_heldout}
    assert not {r.prompt for r in train} & {r.prompt for r in heldout}
    assert 0.2 < len(heldout) / len(rows) < 0.4
    assert dataset.split_bucket("x") == dataset.split_bucket("x") != dataset.split_bucket("x", salt="other")

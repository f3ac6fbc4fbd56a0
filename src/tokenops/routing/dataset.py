"""Routing evaluation data: prompts with a weak and a strong model's quality on each.

A dataset is a CSV, or a folder of CSVs, with a prompt column and one quality column per
model (booleans such as `True`/`False`, or numeric scores such as a 1-10 judge score).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tokenops.errors import ConfigError
from tokenops.routing.features import Prompt, prompt_of_chat, prompt_of_text

CONTAMINATED_FILE = "contaminated_prompts.jsonl"
SPLIT_SALT = "tokenops-routing-split-v1"
HELDOUT_FRACTION = 0.3

_TRUE = {"true", "yes", "y", "t"}
_FALSE = {"false", "no", "n", "f"}


@dataclass(frozen=True, slots=True)
class Row:
    prompt: str  # the text, or for a recorded chat request the text its key is drawn from
    weak: float
    strong: float
    kind: str = ""  # the kind of prompt (a corpus source's, or the structural kind of routing.kinds)
    lo: float = 0.0  # the quality scale of the row's source: worst ...
    hi: float = 1.0  # ... and best possible
    body: dict[str, Any] | None = None  # a recorded chat request, scored as the gateway scores it

    @property
    def key(self) -> str:
        return prompt_digest(self.prompt)

    def parts(self) -> Prompt:
        """What the scorer reads: the recorded request as the gateway sees it, else the prompt as one user turn."""
        return prompt_of_chat(self.body) if self.body is not None else prompt_of_text(self.prompt)


def parse_quality(text: str) -> float | None:
    """`True`/`False` (and yes/no) as 1/0, numbers as themselves; blank as missing."""
    value = text.strip()
    if not value:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return 1.0
    if lowered in _FALSE:
        return 0.0
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"not a boolean or a number: {text!r}") from None


def csv_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise ConfigError(f"{path}: no CSV files in this folder")
        return files
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder")
    return [path]


def read_rows(path: Path, weak: str, strong: str, prompt_column: str = "prompt") -> list[Row]:
    """Every row with both qualities present, in file order (files sorted by name)."""
    rows: list[Row] = []
    for file in csv_files(path):
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {prompt_column, weak, strong} - set(reader.fieldnames or ())
            if missing:
                raise ConfigError(f"{file}: missing column(s) {', '.join(sorted(missing))}")
            for record in reader:
                w = parse_quality(record[weak] or "")
                s = parse_quality(record[strong] or "")
                if w is not None and s is not None:
                    rows.append(Row(record[prompt_column] or "", w, s))
    return rows


def dedupe(rows: Iterable[Row]) -> list[Row]:
    """Keep the first row of each distinct prompt."""
    seen: set[str] = set()
    out: list[Row] = []
    for row in rows:
        if row.prompt not in seen:
            seen.add(row.prompt)
            out.append(row)
    return out


def read_contaminated(path: Path) -> set[str]:
    """The `eval_prompt` of every line of a contaminated-prompts JSONL file."""
    prompts: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                prompt = json.loads(line).get("eval_prompt")
                if isinstance(prompt, str):
                    prompts.add(prompt)
    return prompts


def default_contaminated(dataset: Path) -> Path | None:
    """A `contaminated_prompts.jsonl` beside the data (in the folder, or beside the file)."""
    folder = dataset if dataset.is_dir() else dataset.parent
    candidate = folder / CONTAMINATED_FILE
    return candidate if candidate.exists() else None


def drop_prompts(rows: Iterable[Row], prompts: set[str]) -> list[Row]:
    return [row for row in rows if row.prompt not in prompts]


def prompt_digest(prompt: str) -> str:
    """A short stable id of a prompt (for training-set membership)."""
    return hashlib.blake2b(prompt.encode(), digest_size=8).hexdigest()


def split_bucket(prompt: str, salt: str = SPLIT_SALT) -> float:
    """A reproducible position in [0, 1) drawn from the prompt's hash."""
    digest = hashlib.sha256(f"{salt}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split(
    rows: Iterable[Row], heldout_fraction: float = HELDOUT_FRACTION, salt: str = SPLIT_SALT
) -> tuple[list[Row], list[Row]]:
    """(train, held-out), decided by each prompt's hash alone."""
    train: list[Row] = []
    heldout: list[Row] = []
    for row in rows:
        (heldout if split_bucket(row.prompt, salt) < heldout_fraction else train).append(row)
    return train, heldout


def quality_scale(rows: Iterable[Row]) -> tuple[float, float]:
    """(worst, best) quality of the data's scale: 0-1 for correctness, 1-10 for a judge's rating, else its span."""
    values = [v for r in rows for v in (r.weak, r.strong)]
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    if lo >= 1.0 and hi <= 10.0:
        return 1.0, 10.0
    return lo, hi if hi > lo else lo + 1.0


def with_scale(rows: list[Row]) -> list[Row]:
    lo, hi = quality_scale(rows)
    return [replace(r, lo=lo, hi=hi) for r in rows]


def load(path: Path, weak: str, strong: str, contaminated: Path | None = None) -> tuple[list[Row], int, int]:
    """Read, deduplicate and drop contaminated prompts: (rows, rows read, contaminated dropped)."""
    raw = read_rows(path, weak, strong)
    rows = with_scale(dedupe(raw))
    source = contaminated or default_contaminated(path)
    dropped = 0
    if source is not None:
        kept = drop_prompts(rows, read_contaminated(source))
        dropped = len(rows) - len(kept)
        rows = kept
    return rows, len(raw), dropped

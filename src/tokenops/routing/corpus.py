"""A training corpus of several kinds of prompts, described by a manifest (YAML).

Each source is a CSV (or a folder of CSVs) of prompts with per-model quality columns; it
names the weak and the strong model whose difference is its label, and either one kind for
all its prompts or `kind: by-structure` to split it with `routing.kinds`. A source may leave
out prompts by a named rule and rename or re-pair kinds. Prompts that another source already
holds (the same opening words) are dropped, so a held-out kind is not seen through a copy.

    data_root: ../../shared/data/routing      # relative to this file; --data overrides
    sources:
      - {path: mmlu, kind: mmlu, weak: Mixtral, strong: gpt-4}
      - path: more/mixed.csv
        kind: by-structure
        weak: small
        strong: large
        exclude: numeric-prose
        rename: {chat: question}
        pairs: {math: {strong: larger}}
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tokenops.errors import ConfigError
from tokenops.routing import kinds
from tokenops.routing.dataset import (
    Row,
    csv_files,
    dedupe,
    default_contaminated,
    read_contaminated,
    read_rows,
    with_scale,
)

BY_STRUCTURE = "by-structure"
HEAD = 100  # characters compared to find a prompt that another source holds

_SPACE = re.compile(r"\s+")


def _numeric_prose(text: str) -> bool:
    """Prose with numbers in it: a numeric word problem could hide here, so a held-out math set stays unseen.

    Symbolic math (LaTeX), code and logic puzzles are kept; so are passages far longer than a word problem.
    """
    kind = kinds.of_text(text)
    if kind in ("code", "logic") or kinds.LATEX.search(text):
        return False
    return bool(kinds.DIGIT.search(text)) and len(text) <= 2 * kinds.READING_CHARS


EXCLUDES: dict[str, Callable[[str], bool]] = {"numeric-prose": _numeric_prose}


@dataclass(frozen=True, slots=True)
class Source:
    path: Path
    kind: str
    weak: str
    strong: str
    exclude: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    pairs: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> {weak, strong} for that kind


def _source(doc: Any, root: Path) -> Source:
    if not isinstance(doc, dict) or not {"path", "kind", "weak", "strong"} <= set(doc):
        raise ConfigError(f"a corpus source needs path, kind, weak and strong: {doc!r}")
    exclude = doc.get("exclude")
    if exclude is not None and exclude not in EXCLUDES:
        raise ConfigError(f"unknown exclude rule {exclude!r} (known: {', '.join(EXCLUDES)})")
    return Source(
        path=root / str(doc["path"]),
        kind=str(doc["kind"]),
        weak=str(doc["weak"]),
        strong=str(doc["strong"]),
        exclude=exclude,
        rename={str(k): str(v) for k, v in (doc.get("rename") or {}).items()},
        pairs={str(k): {str(a): str(b) for a, b in v.items()} for k, v in (doc.get("pairs") or {}).items()},
    )


def read_manifest(path: Path, data_root: Path | None = None) -> list[Source]:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the corpus manifest ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list) or not doc["sources"]:
        raise ConfigError(f"{path}: a corpus manifest lists its sources under 'sources'")
    root = data_root or (path.parent / str(doc.get("data_root", ".")))
    return [_source(s, root) for s in doc["sources"]]


def _rows_of(source: Source) -> list[Row]:
    contaminated = default_contaminated(source.path)
    dropped = read_contaminated(contaminated) if contaminated else set()
    if source.kind != BY_STRUCTURE:
        rows = dedupe(read_rows(source.path, source.weak, source.strong))
        return [replace(r, kind=source.kind) for r in rows if r.prompt not in dropped]
    excluded = EXCLUDES[source.exclude] if source.exclude else None
    out: list[Row] = []
    pairs: dict[tuple[str, str], dict[str, Row]] = {}
    for weak, strong in {(source.weak, source.strong), *((p.get("weak", source.weak), p.get("strong", source.strong))
                                                         for p in source.pairs.values())}:  # fmt: skip
        pairs[(weak, strong)] = {r.prompt: r for r in dedupe(read_rows(source.path, weak, strong))}
    for row in pairs[(source.weak, source.strong)].values():
        if row.prompt in dropped or (excluded is not None and excluded(row.prompt)):
            continue
        kind = kinds.of_text(row.prompt)
        kind = source.rename.get(kind, kind)
        pair = source.pairs.get(kind)
        if pair is not None:
            key = (pair.get("weak", source.weak), pair.get("strong", source.strong))
            match = pairs[key].get(row.prompt)
            if match is None:
                continue
            row = match
        out.append(replace(row, kind=kind))
    return out


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _held(sorted_texts: list[str], text: str) -> bool:
    """Whether some text of `sorted_texts` opens with this prompt's first HEAD characters."""
    head = _normal(text)[:HEAD]
    i = bisect.bisect_left(sorted_texts, head)
    return i < len(sorted_texts) and sorted_texts[i].startswith(head)


def load_corpus(sources: list[Source]) -> list[Row]:
    """Every source's rows with their kind and quality scale; copies of an earlier source's prompts dropped."""
    rows: list[Row] = []
    earlier: list[str] = []
    for source in sources:
        csv_files(source.path)  # a clear error for a missing path
        own = _rows_of(source)
        if not own:
            raise ConfigError(f"{source.path}: no rows with both '{source.weak}' and '{source.strong}'")
        kept = [r for r in with_scale(own) if not _held(earlier, r.prompt)]
        rows += kept
        earlier = sorted([*earlier, *(_normal(r.prompt) for r in kept)])
    return rows

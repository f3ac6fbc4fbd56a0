"""An operator's recorded traffic with the quality labels it has, as training and evaluation rows.

Traffic is JSONL of recorded requests, as `tokenops demo traffic --record` writes them (tenant,
time, api, body; a `request_id` where the recorder knew it). A line's label is given inline
under `quality`, or in a labels file (JSONL) matched by `request_id` or by `line` (1-based), in
one of three forms:

- both models judged: `{"weak": 6, "strong": 9}` (a judge's scores, or 0/1 correctness);
- a user's rating of the answer served: `{"rating": 2, "served": "weak"}` (on the smallest of
  the scales 0-1, 1-5 and 1-10 that holds all the file's ratings; `served` may be
  left out where the usage records say which model served: `--home`). A rating of the weak
  model's answer says whether it fell short (the strong model is taken to have done as well
  as the scale allows); a rating of the strong model's says nothing about the weak one, so
  such lines are counted and left out;
- the weak model's answer compared with the strong model's: `{"agreement": 0.4}` (0-1; the
  strong answer is the reference).

Each row's kind is the line's own `kind` where the operator tagged it, else the structural
kind of `routing.kinds`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tokenops.errors import ConfigError
from tokenops.routing import kinds
from tokenops.routing.dataset import Row, quality_scale
from tokenops.routing.features import prompt_of_chat

RATING_SCALES = ((0.0, 1.0), (1.0, 5.0), (1.0, 10.0))


@dataclass(slots=True)
class Traffic:
    rows: list[Row]
    lines: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> lines left out


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        raw = path.read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    out = []
    for n, line in enumerate(raw, 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}:{n}: a line must be a JSON object")
        out.append((n, doc))
    return out


def read_labels(path: Path) -> dict[str, dict[str, Any]]:
    """Labels keyed by `request_id`, or by `line:N` for those given by line number."""
    labels: dict[str, dict[str, Any]] = {}
    for n, doc in _jsonl(path):
        if isinstance(doc.get("request_id"), str):
            labels[doc["request_id"]] = doc
        elif isinstance(doc.get("line"), int):
            labels[f"line:{doc['line']}"] = doc
        else:
            raise ConfigError(f"{path}:{n}: a label names its request by 'request_id' or 'line'")
    return labels


def _number(doc: Mapping[str, Any], key: str, where: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: '{key}' must be a number")
    return float(value)


def rating_scale(values: list[float]) -> tuple[float, float]:
    """The smallest of the scales 0-1, 1-5 and 1-10 that holds every rating given."""
    top, bottom = max(values, default=1.0), min(values, default=0.0)
    for lo, hi in RATING_SCALES:
        if lo <= bottom and top <= hi:
            return lo, hi
    raise ConfigError(f"ratings from {bottom:g} to {top:g} fit none of the scales 0-1, 1-5 and 1-10")


def _ratings(docs: list[dict[str, Any]], labels: Mapping[str, Mapping[str, Any]] | None) -> list[float]:
    found = [d["quality"].get("rating") for d in docs if isinstance(d.get("quality"), Mapping)]
    found += [label.get("rating") for label in (labels or {}).values()]
    return [float(v) for v in found if isinstance(v, int | float) and not isinstance(v, bool)]


def _qualities(
    label: Mapping[str, Any], served: str | None, where: str, scale: tuple[float, float]
) -> tuple[float, float, float, float] | str:
    """(weak, strong, lo, hi), or why the line teaches nothing."""
    if "weak" in label and "strong" in label:
        weak, strong = _number(label, "weak", where), _number(label, "strong", where)
        lo, hi = quality_scale([Row("", weak, strong)])
        return weak, strong, lo, hi
    if "agreement" in label:
        value = _number(label, "agreement", where)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where}: 'agreement' is a share, 0 to 1")
        return value, 1.0, 0.0, 1.0
    if "rating" in label:
        rating = _number(label, "rating", where)
        lo, hi = scale
        who = label.get("served", served)
        if who not in ("weak", "strong"):
            return "rating without the model that served it"
        if who == "strong":
            return "rating of the strong model's answer"
        return rating, hi, lo, hi
    raise ConfigError(f"{where}: a label gives 'weak' and 'strong', 'rating', or 'agreement'")


def _last_user_text(body: Mapping[str, Any]) -> str:
    return prompt_of_chat(body).text


def read_traffic(
    path: Path,
    labels: Mapping[str, Mapping[str, Any]] | None = None,
    served: Mapping[str, str] | None = None,
) -> Traffic:
    """Labelled chat requests of a traffic file as rows; unlabelled and unusable lines counted by reason."""
    traffic = Traffic(rows=[])
    seen: set[str] = set()
    lines = _jsonl(path)
    scale = rating_scale(_ratings([doc for _, doc in lines], labels))
    for n, doc in lines:
        traffic.lines += 1
        where = f"{path}:{n}"
        body = doc.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            traffic.skipped["not a chat request"] += 1
            continue
        request_id = doc.get("request_id") if isinstance(doc.get("request_id"), str) else None
        label = doc.get("quality")
        if label is None and labels is not None:
            label = labels.get(request_id or "") or labels.get(f"line:{n}")
        if not isinstance(label, Mapping):
            traffic.skipped["no quality label"] += 1
            continue
        result = _qualities(label, (served or {}).get(request_id or ""), where, scale)
        if isinstance(result, str):
            traffic.skipped[result] += 1
            continue
        weak, strong, lo, hi = result
        key = orjson.dumps({"messages": body["messages"], "tools": body.get("tools")}).decode()
        if key in seen:
            traffic.skipped["repeat of an earlier request"] += 1
            continue
        seen.add(key)
        tagged = doc.get("kind") or label.get("kind")
        kind = str(tagged) if tagged else kinds.of_chat(body, _last_user_text(body))
        traffic.rows.append(Row(key, weak, strong, kind, lo, hi, body))
    return traffic
